#include "roles/api/web_html.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/http/message.hpp"
#include "core/http/router.hpp"
#include "core/text.hpp"
#include "pokeflow/limits.hpp"

namespace pokeflow::roles::api::web {
namespace {

using core::text::trim;

// A whole-string integer as a JSON integer, anything else as a JSON string (which the
// validator then rejects with its own "not a valid integer" message).
std::string json_integer_or_string(std::string_view raw) {
  auto t = trim(raw);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (!t.empty() && ec == std::errc() && p == t.data() + t.size()) return std::to_string(v);
  return core::text::json_string(raw);
}

std::string json_number_or_string(std::string_view raw) {
  auto t = trim(raw);
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (!t.empty() && ec == std::errc() && p == t.data() + t.size() && std::isfinite(v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
  return core::text::json_string(raw);
}

const char* state_class(order_state s) { return to_string(s); }

std::string nav() {
  return "<header><a class=\"brand\" href=\"/list_orders\"><img src=\"/static/images/pokeball.png\" alt=\"\" "
         "width=\"28\" height=\"28\"> pokeflow</a><nav><a href=\"/create_order\">Create order</a>"
         "<a href=\"/list_orders\">Orders</a><a href=\"/dashboard\">Dashboard</a><a href=\"/docs\">API docs</a>"
         "</nav></header>";
}

std::string error_box(const std::vector<std::string>& errors, std::string_view lead) {
  if (errors.empty()) return {};
  std::string out = "<div class=\"error\" role=\"alert\"><p>" + escape(lead) + "</p><ul>";
  for (const auto& e : errors) out += "<li>" + escape(e) + "</li>";
  out += "</ul></div>";
  return out;
}

std::string value_of(const form_values& v, const std::string& k) {
  auto it = v.find(k);
  return it == v.end() ? std::string() : escape(it->second);
}

std::string filter_form(std::string_view state, std::string_view limit) {
  std::string out =
      "<form class=\"filter\" method=\"get\" action=\"/list_orders\"><label>State <select name=\"state\">"
      "<option value=\"\">all</option>";
  for (auto s : limits::states) {
    out += "<option value=\"" + std::string(s) + "\"" + (s == state ? " selected" : "") + ">" + std::string(s) +
           "</option>";
  }
  out += "</select></label><label>Per page <input name=\"limit\" type=\"number\" min=\"" +
         std::to_string(limits::list_limit_min) + "\" max=\"" + std::to_string(limits::list_limit_max) +
         "\" value=\"" + escape(limit) + "\"></label><button type=\"submit\">Show</button></form>";
  return out;
}

std::string list_href(const list_query& q, std::int64_t skip) {
  std::string out = "/list_orders?state=";
  if (q.state) out += to_string(*q.state);
  out += "&amp;skip=" + std::to_string(skip) + "&amp;limit=" + std::to_string(q.limit);
  return out;
}

std::string pokemon_cell(std::string_view name) {
  return "<span class=\"pokemon\"><img src=\"/static/images/pokeball.png\" alt=\"\" width=\"18\" height=\"18\"> " +
         escape(name) + "</span>";
}

}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::variant<core::json::new_order, core::json::validation_errors> parse_order_form(std::string_view body) {
  auto fields = core::http::parse_query(body);
  if (!fields)
    return core::json::validation_errors{{{"body"}, "malformed form data (a bad %-escape)", "value_error.form"}};
  std::string json = "{";
  auto add = [&](const char* key, std::string value) {
    if (json.size() > 1) json += ',';
    json += core::text::json_string(key) + ":" + value;
  };
  if (auto it = fields->find("user_id"); it != fields->end()) add("user_id", json_integer_or_string(it->second));
  if (auto it = fields->find("pokemon"); it != fields->end()) add("pokemon", core::text::json_string(it->second));
  if (auto it = fields->find("country"); it != fields->end()) add("country", core::text::json_string(it->second));
  if (auto it = fields->find("price"); it != fields->end()) add("price", json_number_or_string(it->second));
  json += '}';
  return core::json::parse_new_order(json);
}

std::vector<std::string> describe(const core::json::validation_errors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) {
    std::string where;
    for (std::size_t i = 0; i < e.loc.size(); ++i) {
      if (i == 0 && (e.loc[i] == "body" || e.loc[i] == "query") && e.loc.size() > 1) continue;
      if (!where.empty()) where += '.';
      where += e.loc[i];
    }
    out.push_back(where.empty() ? e.msg : where + ": " + e.msg);
  }
  return out;
}

std::string page(std::string_view title, std::string_view main_html) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
  out += escape(title);
  out += " · pokeflow</title><link rel=\"icon\" href=\"/static/images/pokeball.png\">"
         "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>";
  out += nav();
  out += "<main>";
  out += main_html;
  out += "</main></body></html>\n";
  return out;
}

std::string create_form_page(const form_values& v, const std::vector<std::string>& errors) {
  std::string m = "<h1>Create an order</h1>";
  m += error_box(errors, "The order was not created:");
  m += "<form class=\"card\" method=\"post\" action=\"/create_order\">"
       "<label for=\"user_id\">User id</label><input id=\"user_id\" name=\"user_id\" type=\"number\" min=\"" +
       std::to_string(limits::user_id_min) + "\" step=\"1\" required value=\"" + value_of(v, "user_id") +
       "\">"
       "<label for=\"pokemon\">Pokémon</label><input id=\"pokemon\" name=\"pokemon\" required maxlength=\"" +
       std::to_string(limits::name_max_length) + "\" value=\"" + value_of(v, "pokemon") +
       "\">"
       "<label for=\"country\">Country</label><input id=\"country\" name=\"country\" required maxlength=\"" +
       std::to_string(limits::name_max_length) + "\" value=\"" + value_of(v, "country") +
       "\">"
       "<label for=\"price\">Price</label><input id=\"price\" name=\"price\" type=\"number\" min=\"" +
       format_price(limits::price_min) + "\" max=\"" + format_price(limits::price_max) +
       "\" step=\"any\" required value=\"" + value_of(v, "price") +
       "\">"
       "<button type=\"submit\">Create order</button></form>";
  return page("Create an order", m);
}

std::string order_created_page(const order& o) {
  std::string id = std::to_string(o.id);
  std::string m = "<h1>Order created</h1><div class=\"card order\" id=\"order\" data-order-id=\"" + id + "\"><dl>";
  m += "<dt>Order</dt><dd>#" + id + "</dd>";
  m += "<dt>User</dt><dd>" + std::to_string(o.user_id) + "</dd>";
  m += "<dt>Pokémon</dt><dd>" + pokemon_cell(o.pokemon) + "</dd>";
  m += "<dt>Country</dt><dd>" + escape(o.country) + "</dd>";
  m += "<dt>Price</dt><dd>" + format_price(o.price) + "</dd>";
  m += "<dt>State</dt><dd><span class=\"state " + std::string(state_class(o.state)) + "\">" + to_string(o.state) +
       "</span></dd>";
  m += "<dt>Created</dt><dd>" + escape(o.timestamp) + "</dd></dl></div>";
  m += "<p class=\"links\"><a href=\"/list_orders\">All orders</a> <a href=\"/create_order\">Create another</a> "
       "<a href=\"/orders/" + id + "\">As JSON</a></p>";
  return page("Order created", m);
}

std::string list_page(const list_query& q, const std::vector<order>& orders, bool has_next) {
  std::string m = "<h1>Orders</h1>";
  m += filter_form(q.state ? to_string(*q.state) : "", std::to_string(q.limit));
  if (orders.empty()) {
    m += "<p class=\"empty\">No orders" + std::string(q.skip > 0 ? " on this page" : "") +
         (q.state ? std::string(" in state ") + to_string(*q.state) : std::string()) + ".</p>";
  } else {
    m += "<table><thead><tr><th>Order</th><th>User</th><th>Pokémon</th><th>Country</th><th class=\"num\">Price</th>"
         "<th>State</th><th>Created</th></tr></thead><tbody>";
    for (const auto& o : orders) {
      std::string id = std::to_string(o.id);
      m += "<tr data-order-id=\"" + id + "\"><td><a href=\"/orders/" + id + "\">#" + id + "</a></td><td>" +
           std::to_string(o.user_id) + "</td><td>" + pokemon_cell(o.pokemon) + "</td><td>" + escape(o.country) +
           "</td><td class=\"num\">" + format_price(o.price) + "</td><td><span class=\"state " +
           state_class(o.state) + "\">" + to_string(o.state) + "</span></td><td>" + escape(o.timestamp) +
           "</td></tr>";
    }
    m += "</tbody></table>";
  }
  m += "<nav class=\"pager\">";
  if (q.skip > 0)
    m += "<a rel=\"prev\" href=\"" + list_href(q, std::max<std::int64_t>(0, q.skip - q.limit)) + "\">Previous</a>";
  else
    m += "<span class=\"disabled\">Previous</span>";
  if (orders.empty())
    m += "<span class=\"range\">—</span>";
  else
    m += "<span class=\"range\">" + std::to_string(q.skip + 1) + "–" +
         std::to_string(q.skip + static_cast<std::int64_t>(orders.size())) + "</span>";
  if (has_next)
    m += "<a rel=\"next\" href=\"" + list_href(q, q.skip + q.limit) + "\">Next</a>";
  else
    m += "<span class=\"disabled\">Next</span>";
  m += "</nav>";
  return page("Orders", m);
}

std::string list_error_page(const form_values& raw, const std::vector<std::string>& errors) {
  auto get = [&](const char* k) {
    auto it = raw.find(k);
    return it == raw.end() ? std::string() : it->second;
  };
  std::string limit = get("limit");
  if (limit.empty()) limit = std::to_string(limits::list_limit_default);
  std::string m = "<h1>Orders</h1>" + error_box(errors, "These orders cannot be shown:");
  m += filter_form(get("state"), limit);
  return page("Orders", m);
}

std::string error_page(unsigned status, std::string_view title, std::string_view message) {
  std::string m = "<h1>" + escape(title) + "</h1><div class=\"error\" role=\"alert\"><p>" + escape(message) +
                  "</p></div><p class=\"links\"><a href=\"/list_orders\">Orders</a> <a href=\"/create_order\">"
                  "Create order</a></p>";
  (void)status;
  return page(title, m);
}

std::string docs_page() {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>API docs · pokeflow</title><link rel=\"icon\" href=\"/static/images/pokeball.png\">"
         "<link rel=\"stylesheet\" href=\"/static/swagger-ui/swagger-ui.css\">"
         "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body class=\"docs\">" +
         nav() +
         "<div id=\"swagger-ui\"></div>"
         "<script src=\"/static/swagger-ui/swagger-ui-bundle.js\"></script>"
         "<script src=\"/static/docs.js\"></script></body></html>\n";
}

std::string dashboard_page(const std::vector<std::string>& groups) {
  std::string g;
  for (const auto& x : groups) g += (g.empty() ? "" : ", ") + escape(x);
  std::string m =
      "<h1>Dashboard <span id=\"status\" class=\"status\">connecting…</span></h1>"
      "<p class=\"hint\">Updated every second from PostgreSQL, Kafka (consumer groups " +
      g +
      ") and this api. Shaded: fault windows marked by the chaos suite.</p>"
      "<div class=\"charts\">"
      "<section class=\"chart\"><h2>Orders per second</h2><div id=\"chart-orders\"></div></section>"
      "<section class=\"chart\"><h2>Consumer lag (messages)</h2><div id=\"chart-lag\"></div></section>"
      "<section class=\"chart\"><h2>Outbox backlog</h2><div id=\"chart-outbox\"></div></section>"
      "<section class=\"chart\"><h2>Outbox oldest event age (s)</h2><div id=\"chart-outbox-age\"></div></section>"
      "<section class=\"chart\"><h2>DLQ messages</h2><div id=\"chart-dlq\"></div></section>"
      "<section class=\"chart\"><h2>POST /orders p99 (ms, this api)</h2><div id=\"chart-p99\"></div></section>"
      "</div><noscript><p class=\"error\">The charts need JavaScript; the data is at "
      "<a href=\"/dashboard/data\">/dashboard/data</a>.</p></noscript>"
      "<script src=\"/static/uplot/uPlot.iife.min.js\"></script><script src=\"/static/dashboard.js\"></script>";
  std::string out = page("Dashboard", m);
  // uPlot's stylesheet, before ours.
  auto pos = out.find("<link rel=\"stylesheet\" href=\"/static/style.css\">");
  out.insert(pos, "<link rel=\"stylesheet\" href=\"/static/uplot/uPlot.min.css\">");
  return out;
}

std::string format_price(double price) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", price);
  std::string s = buf;
  // 50.00 -> 50, 50.50 -> 50.5
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace pokeflow::roles::api::web
