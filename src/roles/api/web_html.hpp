#pragma once
// The seed's HTML pages, rendered as strings (pure functions: unit-testable without a server).
// Every value from a request or the database goes through escape(); nothing needs JavaScript.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/json/codec.hpp"
#include "pokeflow/order.hpp"
#include "roles/api/list_query.hpp"

namespace pokeflow::roles::api::web {

// & < > " ' as entities: safe in element content and in quoted attribute values.
std::string escape(std::string_view s);

// An application/x-www-form-urlencoded body of the create form -> the same validation as
// POST /orders (the fields are turned into the JSON body POST /orders would get and handed to
// json::parse_new_order, so a form and a JSON client can never be judged differently).
// Unknown fields (a submit button's name) are ignored. A malformed %-escape is a body error.
std::variant<core::json::new_order, core::json::validation_errors> parse_order_form(std::string_view body);

// The values a re-shown form keeps (as typed).
using form_values = std::map<std::string, std::string>;

// "field: message" lines of a validation error list, for people.
std::vector<std::string> describe(const core::json::validation_errors& errs);

std::string page(std::string_view title, std::string_view main_html);
std::string create_form_page(const form_values& values, const std::vector<std::string>& errors);
std::string order_created_page(const order& o);
// orders: at most q.limit rows shown; has_next: there is at least one more after them.
std::string list_page(const list_query& q, const std::vector<order>& orders, bool has_next);
// The filter form and the problems with the query (422) or the database (503).
std::string list_error_page(const form_values& raw_query, const std::vector<std::string>& errors);
std::string error_page(unsigned status, std::string_view title, std::string_view message);
std::string docs_page();
std::string dashboard_page(const std::vector<std::string>& groups);

// Price as the pages show it ("50", "50.5", "1234.57").
std::string format_price(double price);

}  // namespace pokeflow::roles::api::web
