#include "roles/updater/outcome.hpp"

namespace pokeflow::roles::updater {

const char* to_string(outcome o) noexcept {
  switch (o) {
    case outcome::done: return "done";
    case outcome::dead_letter: return "dead_letter";
    case outcome::retry: return "retry";
    case outcome::fatal: return "fatal";
  }
  return "fatal";
}

outcome outcome_of(int status) noexcept {
  switch (status) {
    case 200:  // applied
    case 409:  // already terminal: the guarded UPDATE refused a flip, the message is done
      return outcome::done;
    case 400:  // the api refused the request built from this message
    case 404:  // no such order (deleted, or an id from elsewhere)
    case 410:
    case 422:  // a state the api does not accept
      return outcome::dead_letter;
    case 0:    // no answer: api down, restarting, or a network fault
    case 408:
    case 425:
    case 429:
      return outcome::retry;
    case 401:  // our token is not the api's: every message would fail the same way
    case 403:
      return outcome::fatal;
    default: break;
  }
  if (status >= 500 && status <= 599) return outcome::retry;  // incl. 503 while the database is down
  return outcome::fatal;
}

}  // namespace pokeflow::roles::updater
