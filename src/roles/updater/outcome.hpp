#pragma once
// What the api's answer to PUT /orders/{id} means for the state message: kept pure.

namespace pokeflow::roles::updater {

enum class outcome {
  done,         // applied, or already terminal (a duplicate or late decision): commit it
  dead_letter,  // the message itself is wrong (unknown order, refused body): DLQ, then commit
  retry,        // not the message's fault and may pass later (api or database down): back off
  fatal,        // retrying cannot help (refused token, an api that speaks another contract):
                // end the process non-zero (exit 70) instead of spinning
};

const char* to_string(outcome o) noexcept;

// status: the HTTP status, or 0 when no answer arrived (connect failure, reset, timeout).
// 200, 409 -> done; 400, 404, 410, 422 -> dead_letter; 0, 408, 425, 429, 5xx -> retry;
// 401, 403 and anything else (1xx, other 2xx, 3xx, other 4xx) -> fatal.
outcome outcome_of(int status) noexcept;

}  // namespace pokeflow::roles::updater
