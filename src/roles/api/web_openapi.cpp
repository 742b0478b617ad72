#include "roles/api/web_openapi.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/text.hpp"
#include "pokeflow/limits.hpp"
#include "roles/api/web_assets.hpp"

namespace pokeflow::roles::api::web {
namespace {

// A small ordered JSON value, enough to write the document as nested initializer lists.
struct jv;
using jobject = std::vector<std::pair<std::string, jv>>;
using jarray = std::vector<jv>;

struct jv {
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, std::shared_ptr<jarray>,
               std::shared_ptr<jobject>>
      v;
  jv() : v(nullptr) {}
  jv(bool b) : v(b) {}
  jv(int i) : v(static_cast<std::int64_t>(i)) {}
  jv(std::int64_t i) : v(i) {}
  jv(std::size_t i) : v(static_cast<std::int64_t>(i)) {}
  jv(double d) : v(d) {}
  jv(const char* s) : v(std::string(s)) {}
  jv(std::string s) : v(std::move(s)) {}
  jv(std::string_view s) : v(std::string(s)) {}
  jv(jobject o) : v(std::make_shared<jobject>(std::move(o))) {}
  static jv array(jarray a) {
    jv out;
    out.v = std::make_shared<jarray>(std::move(a));
    return out;
  }
};

jv obj(std::initializer_list<std::pair<std::string, jv>> l) { return jv(jobject(l)); }
jv arr(std::initializer_list<jv> l) { return jv::array(jarray(l)); }

void write(std::string& out, const jv& x, int indent) {
  auto nl = [&](int n) {
    out += '\n';
    out.append(static_cast<std::size_t>(n) * 2, ' ');
  };
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out += std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[40];
          if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.1f", v);
          else std::snprintf(buf, sizeof buf, "%.17g", v);
          out += buf;
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += '"' + core::text::json_escape(v) + '"';
        } else if constexpr (std::is_same_v<T, std::shared_ptr<jarray>>) {
          if (v->empty()) {
            out += "[]";
            return;
          }
          out += '[';
          for (std::size_t i = 0; i < v->size(); ++i) {
            if (i) out += ',';
            nl(indent + 1);
            write(out, (*v)[i], indent + 1);
          }
          nl(indent);
          out += ']';
        } else {
          if (v->empty()) {
            out += "{}";
            return;
          }
          out += '{';
          for (std::size_t i = 0; i < v->size(); ++i) {
            if (i) out += ',';
            nl(indent + 1);
            out += '"' + core::text::json_escape((*v)[i].first) + "\": ";
            write(out, (*v)[i].second, indent + 1);
          }
          nl(indent);
          out += '}';
        }
      },
      x.v);
}

jv ref(std::string_view name) { return obj({{"$ref", "#/components/schemas/" + std::string(name)}}); }

jv json_content(jv schema) { return obj({{"application/json", obj({{"schema", std::move(schema)}})}}); }
jv html_content() { return obj({{"text/html", obj({{"schema", obj({{"type", "string"}})}})}}); }

jv response(std::string description, jv content = jv()) {
  jobject r{{"description", std::move(description)}};
  if (!std::holds_alternative<std::nullptr_t>(content.v)) r.emplace_back("content", std::move(content));
  return jv(std::move(r));
}

jv error_response(std::string description) { return response(std::move(description), json_content(ref("Error"))); }

jv string_array(const auto& items) {
  jarray a;
  for (auto s : items) a.emplace_back(std::string_view(s));
  return jv::array(std::move(a));
}

// Strings the validator accepts: 1..name_max_length characters (code points, as JSON Schema's
// maxLength counts them, not bytes), not only blanks (space, tab, CR, LF), no NUL.
jv name_schema() {
  return obj({{"type", "string"},
              {"minLength", limits::name_min_length},
              {"maxLength", limits::name_max_length},
              {"pattern", "^[^\\u0000]*[^\\u0000 \\t\\r\\n][^\\u0000]*$"}});
}

jv order_in_properties() {
  return obj({{"user_id", obj({{"type", "integer"},
                               {"format", "int64"},
                               {"minimum", limits::user_id_min},
                               {"maximum", std::numeric_limits<std::int64_t>::max()}})},
              {"pokemon", name_schema()},
              {"country", name_schema()},
              {"price", obj({{"type", "number"}, {"minimum", limits::price_min}, {"maximum", limits::price_max}})}});
}

jv list_parameters() {
  jarray states{""};
  for (auto s : limits::states) states.emplace_back(s);
  return arr({obj({{"name", "state"},
                   {"in", "query"},
                   {"required", false},
                   {"description", "Only orders in this state (empty: every state)"},
                   {"schema", obj({{"type", "string"}, {"enum", jv::array(states)}})}}),
              obj({{"name", "skip"},
                   {"in", "query"},
                   {"required", false},
                   {"description", "Orders to skip (by ascending id); bounded so a request cannot scan the "
                                   "whole table"},
                   {"schema", obj({{"type", "integer"},
                                   {"minimum", limits::list_skip_min},
                                   {"maximum", limits::list_skip_max},
                                   {"default", 0}})}}),
              obj({{"name", "limit"},
                   {"in", "query"},
                   {"required", false},
                   {"description", "Orders to return"},
                   {"schema", obj({{"type", "integer"},
                                   {"minimum", limits::list_limit_min},
                                   {"maximum", limits::list_limit_max},
                                   {"default", limits::list_limit_default}})}})});
}

jv id_parameter() {
  return obj({{"name", "id"},
              {"in", "path"},
              {"required", true},
              {"schema", obj({{"type", "integer"},
                              {"format", "int64"},
                              {"minimum", 1},
                              {"maximum", std::numeric_limits<std::int64_t>::max()}})}});
}

jv bearer() { return arr({obj({{"bearerAuth", arr({})}})}); }

}  // namespace

std::string openapi_document(const openapi_options& opts) {
  const std::string too_large =
      "Request body larger than " + std::to_string(opts.max_body_bytes) + " bytes (--api-max-body)";
  const jv r400 = error_response("Malformed query string (a bad %-escape)");
  const jv r401 = obj({{"description", "Missing or wrong bearer token (--api-token)"},
                       {"headers", obj({{"WWW-Authenticate", obj({{"schema", obj({{"type", "string"}})}})}})},
                       {"content", json_content(ref("Error"))}});
  const jv r413 = error_response(too_large);
  const jv r415 = error_response("Content-Type is not application/json");
  // What parse_document (src/core/json/codec.cpp) enforces; the unit tests probe each.
  const jv r422 = response(
      "Validation error (FastAPI's shape). Bodies are strict JSON: a duplicate key is rejected (loc names it; "
      "no key wins), as is invalid UTF-8 (overlong or cut-short sequences, surrogates, including an escaped lone "
      "\\udc00), nesting deeper than " +
          std::to_string(limits::json_max_depth) +
          " levels, a number too large for a double (1e400), and NaN or Infinity; user_id above 2^63-1 is out of "
          "range; -0 is 0. maxLength counts characters (Unicode code points), not bytes.",
      json_content(ref("HTTPValidationError")));
  const jv r503 = obj({{"description", "PostgreSQL unreachable or overloaded, or the api is still starting; retry"},
                       {"headers", obj({{"Retry-After", obj({{"schema", obj({{"type", "string"}})}})}})},
                       {"content", json_content(ref("Error"))}});
  const jv r503_html =
      obj({{"description", "PostgreSQL unreachable or overloaded, or the api is still starting"},
           {"headers", obj({{"Retry-After", obj({{"schema", obj({{"type", "string"}})}})}})},
           {"content", html_content()}});

  jarray all_states;
  for (auto s : limits::states) all_states.emplace_back(s);

  jv order_schema = obj({{"type", "object"},
                         {"additionalProperties", false},
                         {"required", arr({"id", "user_id", "pokemon", "country", "price", "state", "timestamp"})},
                         {"properties", obj({{"id", obj({{"type", "integer"}, {"format", "int64"}, {"minimum", 1}})},
                                             {"user_id", obj({{"type", "integer"}, {"format", "int64"}})},
                                             {"pokemon", obj({{"type", "string"}})},
                                             {"country", obj({{"type", "string"}})},
                                             {"price", obj({{"type", "number"}})},
                                             {"state", ref("OrderState")},
                                             {"timestamp", obj({{"type", "string"}, {"format", "date-time"}})}})}});
  jv order_in = obj({{"type", "object"},
                     {"additionalProperties", false},
                     {"required", arr({"user_id", "pokemon", "country", "price"})},
                     {"properties", order_in_properties()},
                     {"example", obj({{"user_id", 1}, {"pokemon", "Pikachu"}, {"country", "Chile"}, {"price", 50.0}})}});
  // The seed's updater sent the whole order; those fields are accepted (with their types) and ignored.
  jv state_update =
      obj({{"type", "object"},
           {"additionalProperties", false},
           {"required", arr({"state"})},
           {"properties", obj({{"state", obj({{"type", "string"}, {"enum", string_array(limits::terminal_states)}})},
                               {"id", obj({{"type", "integer"}, {"format", "int64"}})},
                               {"user_id", obj({{"type", "integer"}, {"format", "int64"}})},
                               {"pokemon", obj({{"type", "string"}})},
                               {"country", obj({{"type", "string"}})},
                               {"price", obj({{"type", "number"}})},
                               {"timestamp", obj({{"type", "string"}})}})},
           {"example", obj({{"state", "success"}})}});
  jv nullable_numbers = obj({{"type", "array"}, {"items", obj({{"type", arr({"number", "null"})}})}});
  jv dashboard_data = obj(
      {{"type", "object"},
       {"required", arr({"now", "groups", "marks", "series"})},
       {"properties",
        obj({{"now", obj({{"type", "number"}, {"description", "Server time, unix seconds"}})},
             {"groups", obj({{"type", "array"}, {"items", obj({{"type", "string"}})}})},
             {"marks", obj({{"type", "array"}, {"items", ref("FaultWindow")}})},
             {"series",
              obj({{"type", "object"},
                   {"required", arr({"t", "created", "finalized", "lag", "outbox_backlog", "outbox_oldest_age_s",
                                     "dlq_messages", "post_p99_ms"})},
                   {"properties",
                    obj({{"t", obj({{"type", "array"}, {"items", obj({{"type", "integer"}})}})},
                         {"created", nullable_numbers},
                         {"finalized", obj({{"type", "object"}, {"additionalProperties", nullable_numbers}})},
                         {"lag", obj({{"type", "object"}, {"additionalProperties", nullable_numbers}})},
                         {"outbox_backlog", nullable_numbers},
                         {"outbox_oldest_age_s", nullable_numbers},
                         {"dlq_messages", nullable_numbers},
                         {"post_p99_ms", nullable_numbers}})}})}})}});

  jv paths = obj({
      {"/orders",
       obj({{"post", obj({{"tags", arr({"orders"})},
                          {"summary", "Create an order"},
                          {"description",
                           "Stores the order as pending together with its outbox event (one transaction); the "
                           "relay publishes it to Kafka."},
                          {"operationId", "create_order"},
                          {"requestBody", obj({{"required", true}, {"content", json_content(ref("OrderIn"))}})},
                          {"responses", obj({{"201", obj({{"description", "Created"},
                                                          {"headers", obj({{"Location", obj({{"schema", obj({{"type", "string"}})}})}})},
                                                          {"content", json_content(ref("Order"))}})},
                                             {"413", r413},
                                             {"415", r415},
                                             {"422", r422},
                                             {"503", r503}})}})},
            {"get", obj({{"tags", arr({"orders"})},
                         {"summary", "List orders"},
                         {"operationId", "list_orders"},
                         {"parameters", list_parameters()},
                         {"responses", obj({{"200", response("Orders by ascending id",
                                                             json_content(obj({{"type", "array"}, {"items", ref("Order")}})))},
                                            {"400", r400},
                                            {"422", r422},
                                            {"503", r503}})}})},
            {"delete", obj({{"tags", arr({"orders"})},
                            {"summary", "Delete every order (as the seed)"},
                            {"operationId", "delete_orders"},
                            {"security", bearer()},
                            {"responses",
                             obj({{"200", response("Deleted",
                                                   json_content(obj({{"type", "object"},
                                                                     {"required", arr({"deleted"})},
                                                                     {"properties", obj({{"deleted", obj({{"type", "integer"}})}})}})))},
                                  {"401", r401},
                                  {"503", r503}})}})}})},
      {"/orders/{id}",
       obj({{"get", obj({{"tags", arr({"orders"})},
                         {"summary", "One order"},
                         {"operationId", "get_order"},
                         {"parameters", arr({id_parameter()})},
                         {"responses", obj({{"200", response("The order", json_content(ref("Order")))},
                                            {"404", error_response("No such order")},
                                            {"422", r422},
                                            {"503", r503}})}})},
            {"put", obj({{"tags", arr({"orders"})},
                         {"summary", "Move a pending order to a terminal state"},
                         {"description",
                          "Guarded: only a pending order changes. The same terminal state again answers 200 "
                          "(a redelivery); another terminal state answers 409 with the current one."},
                         {"operationId", "update_order_state"},
                         {"security", bearer()},
                         {"parameters", arr({id_parameter()})},
                         {"requestBody", obj({{"required", true}, {"content", json_content(ref("StateUpdate"))}})},
                         {"responses", obj({{"200", response("Applied, or already in that state", json_content(ref("Order")))},
                                            {"401", r401},
                                            {"404", error_response("No such order")},
                                            {"409", response("The order is already terminal in another state",
                                                             json_content(ref("Conflict")))},
                                            {"413", r413},
                                            {"415", r415},
                                            {"422", r422},
                                            {"503", r503}})}})}})},
      {"/create_order",
       obj({{"get", obj({{"tags", arr({"pages"})},
                         {"summary", "The order form (HTML)"},
                         {"operationId", "create_order_form"},
                         {"responses", obj({{"200", response("The form", html_content())}})}})},
            {"post", obj({{"tags", arr({"pages"})},
                          {"summary", "Create an order from the form (HTML)"},
                          {"description",
                           "The same validation and creation path as POST /orders. Invalid fields re-show the "
                           "form with the messages (422); other fields are ignored."},
                          {"operationId", "create_order_from_form"},
                          {"requestBody",
                           obj({{"required", true},
                                {"content", obj({{"application/x-www-form-urlencoded",
                                                  obj({{"schema", obj({{"type", "object"},
                                                                       {"required", arr({"user_id", "pokemon", "country", "price"})},
                                                                       {"properties", order_in_properties()}})}})}})}})},
                          {"responses", obj({{"201", response("The order created page", html_content())},
                                             {"413", r413},
                                             {"415", response("Not a form body", html_content())},
                                             {"422", response("The form again, with the problems", html_content())},
                                             {"503", r503_html}})}})}})},
      {"/list_orders",
       obj({{"get", obj({{"tags", arr({"pages"})},
                         {"summary", "Orders as an HTML table with a state filter and paging"},
                         {"operationId", "list_orders_page"},
                         {"parameters", list_parameters()},
                         {"responses", obj({{"200", response("The table", html_content())},
                                            {"400", r400},
                                            {"422", response("The filter form, with the problems", html_content())},
                                            {"503", r503_html}})}})}})},
      {"/docs", obj({{"get", obj({{"tags", arr({"pages"})},
                                  {"summary", "This document in Swagger UI"},
                                  {"operationId", "docs"},
                                  {"responses", obj({{"200", response("Swagger UI", html_content())}})}})}})},
      {"/openapi.json", obj({{"get", obj({{"tags", arr({"pages"})},
                                          {"summary", "This document"},
                                          {"operationId", "openapi"},
                                          {"responses", obj({{"200", response("OpenAPI 3.1", json_content(obj({{"type", "object"}})))}})}})}})},
      {"/dashboard", obj({{"get", obj({{"tags", arr({"dashboard"})},
                                       {"summary", "Live charts for watching a chaos experiment (HTML)"},
                                       {"operationId", "dashboard"},
                                       {"responses", obj({{"200", response("The dashboard", html_content())}})}})}})},
      {"/dashboard/data",
       obj({{"get", obj({{"tags", arr({"dashboard"})},
                         {"summary", "The dashboard's per-second series"},
                         {"description",
                          "One entry per second, oldest first, null where unknown, for up to `seconds` seconds (at "
                          "least 60) back from when sampling began. Sampling runs while someone asks (it stops 10 "
                          "minutes after the last request), so a first request sees few points."},
                         {"operationId", "dashboard_data"},
                         {"parameters",
                          arr({obj({{"name", "seconds"},
                                    {"in", "query"},
                                    {"required", false},
                                    {"schema", obj({{"type", "integer"}, {"minimum", 10}, {"maximum", 900}, {"default", 300}})}})})},
                         {"responses", obj({{"200", response("Series", json_content(ref("DashboardData")))},
                                            {"400", r400},
                                            {"422", r422}})}})}})},
      {"/dashboard/marks",
       obj({{"post", obj({{"tags", arr({"dashboard"})},
                          {"summary", "Mark the start or end of a fault window (the chaos suite)"},
                          {"operationId", "dashboard_mark"},
                          {"security", bearer()},
                          {"requestBody",
                           obj({{"required", true},
                                {"content", obj({{"application/x-www-form-urlencoded",
                                                  obj({{"schema", obj({{"type", "object"},
                                                                       {"required", arr({"name", "phase"})},
                                                                       {"properties", obj({{"name", obj({{"type", "string"}, {"minLength", 1}, {"maxLength", 200}})},
                                                                                           {"phase", obj({{"type", "string"}, {"enum", arr({"start", "end"})}})}})}})}})}})}})},
                          {"responses", obj({{"200", response("The windows now known",
                                                              json_content(obj({{"type", "object"},
                                                                                {"required", arr({"marks"})},
                                                                                {"properties", obj({{"marks", obj({{"type", "array"}, {"items", ref("FaultWindow")}})}})}})))},
                                             {"401", r401},
                                             {"409", error_response("An end for a window that was never started")},
                                             {"413", r413},
                                             {"415", error_response("Not a form body")},
                                             {"422", r422}})}})}})},
  });
  // The embedded files.
  for (const auto& a : embedded_assets()) {
    std::get<std::shared_ptr<jobject>>(paths.v)->emplace_back(
        std::string(a.path),
        obj({{"get", obj({{"tags", arr({"static"})},
                          {"summary", "Embedded file"},
                          {"responses", obj({{"200", obj({{"description", "The file"},
                                                          {"content", obj({{std::string(a.content_type),
                                                                            obj({{"schema", obj({{"type", "string"}})}})}})}})},
                                             {"304", response("Not modified (If-None-Match)")}})}})}}));
  }

  jv doc = obj(
      {{"openapi", "3.1.0"},
       {"info", obj({{"title", "pokeflow"},
                     {"version", POKEFLOW_VERSION},
                     {"description",
                      "The Pokémon order API of pokeflow, a Kafka chaos-engineering reference system. Orders are "
                      "stored with a transactional outbox, published to Kafka, judged by the fraud role and "
                      "finalized by the updater. Unknown paths answer 404 and other methods 405, both as "
                      "{\"detail\": ...}."},
                     {"license", obj({{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}})}})},
       {"servers", arr({obj({{"url", "/"}})})},
       {"tags", arr({obj({{"name", "orders"}, {"description", "The JSON API (the seed's)"}}),
                     obj({{"name", "pages"}, {"description", "The seed's HTML pages and these docs"}}),
                     obj({{"name", "dashboard"}, {"description", "Live view during chaos experiments"}}),
                     obj({{"name", "static"}, {"description", "Files compiled into the binary"}})})},
       {"paths", paths},
       {"components",
        obj({{"securitySchemes", obj({{"bearerAuth", obj({{"type", "http"}, {"scheme", "bearer"}})}})},
             {"schemas",
              obj({{"OrderState", obj({{"type", "string"}, {"enum", jv::array(all_states)}})},
                   {"Order", order_schema},
                   {"OrderIn", order_in},
                   {"StateUpdate", state_update},
                   {"Error", obj({{"type", "object"},
                                  {"required", arr({"detail"})},
                                  {"properties", obj({{"detail", obj({{"type", "string"}})}})}})},
                   {"Conflict", obj({{"type", "object"},
                                     {"required", arr({"detail", "state"})},
                                     {"properties", obj({{"detail", obj({{"type", "string"}})}, {"state", ref("OrderState")}})}})},
                   {"ValidationError",
                    obj({{"type", "object"},
                         {"required", arr({"loc", "msg", "type"})},
                         {"properties", obj({{"loc", obj({{"type", "array"},
                                                          {"items", obj({{"anyOf", arr({obj({{"type", "string"}}),
                                                                                         obj({{"type", "integer"}})})}})}})},
                                             {"msg", obj({{"type", "string"}})},
                                             {"type", obj({{"type", "string"}})}})}})},
                   {"HTTPValidationError",
                    obj({{"type", "object"},
                         {"required", arr({"detail"})},
                         {"properties", obj({{"detail", obj({{"type", "array"}, {"items", ref("ValidationError")}})}})}})},
                   {"FaultWindow", obj({{"type", "object"},
                                        {"required", arr({"name", "start", "end"})},
                                        {"properties", obj({{"name", obj({{"type", "string"}})},
                                                            {"start", obj({{"type", "number"}})},
                                                            {"end", obj({{"type", arr({"number", "null"})}})}})}})},
                   {"DashboardData", dashboard_data}})}})}});
  std::string out;
  write(out, doc, 0);
  out += '\n';
  return out;
}

}  // namespace pokeflow::roles::api::web
