#include "roles/api/web.hpp"

#include <algorithm>
#include <charconv>

#include "core/http/router.hpp"
#include "core/http/server.hpp"
#include "core/log.hpp"
#include "roles/api/web_assets.hpp"
#include "roles/api/web_dashboard.hpp"
#include "roles/api/web_html.hpp"
#include "roles/api/web_openapi.hpp"
#include "roles/api/web_timeline.hpp"

namespace pokeflow::roles::api::web {

namespace asio = boost::asio;
namespace http = core::http;

namespace {

// Our pages load nothing from anywhere else; the browser enforces it too.
constexpr const char* csp =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

http::response html(unsigned status, std::string body) {
  http::response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace("Content-Security-Policy", csp);
  r.headers.emplace("X-Content-Type-Options", "nosniff");
  r.headers.emplace("Cache-Control", "no-store");
  return r;
}

http::response html_failure(const failure& f) {
  auto r = html(f.status, error_page(f.status, f.status == 503 ? "Service unavailable" : "Something went wrong",
                                     f.detail));
  if (f.retry_after) r.headers.emplace("Retry-After", *f.retry_after);
  return r;
}

bool form_content_type(const http::request& req) {
  auto ct = req.header("Content-Type");
  if (!ct) return false;
  std::string v(ct->substr(0, ct->find(';')));
  v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "application/x-www-form-urlencoded";
}

bool accepts_gzip(const http::request& req) {
  auto ae = req.header("Accept-Encoding");
  if (!ae) return false;
  std::string v(*ae);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  // "gzip" listed and not refused with q=0.
  auto p = v.find("gzip");
  if (p == std::string::npos) return false;
  auto end = v.find(',', p);
  auto item = v.substr(p, end == std::string::npos ? std::string::npos : end - p);
  item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
  return item.find("q=0") == std::string::npos || item.find("q=0.") != std::string::npos;
}

bool text_type(std::string_view t) { return t.starts_with("text/") || t == "application/json"; }

struct handlers {
  backend b;
  std::shared_ptr<dashboard> dash;
  options opts;
  std::string openapi;

  asio::awaitable<http::response> create_form(http::request&) { co_return html(200, create_form_page({}, {})); }

  asio::awaitable<http::response> create_from_form(http::request& req) {
    if (!form_content_type(req))
      co_return html(415, error_page(415, "Not a form",
                                     "POST /create_order takes application/x-www-form-urlencoded (the form on "
                                     "this page); JSON clients use POST /orders."));
    form_values values;
    if (auto q = http::parse_query(req.body)) values = std::move(*q);
    auto parsed = parse_order_form(req.body);
    if (auto* errs = std::get_if<core::json::validation_errors>(&parsed))
      co_return html(422, create_form_page(values, describe(*errs)));
    auto created = co_await b.create(std::get<core::json::new_order>(std::move(parsed)));
    if (auto* f = std::get_if<failure>(&created)) {
      auto r = html(f->status, create_form_page(values, {"The order could not be stored: " + f->detail}));
      if (f->retry_after) r.headers.emplace("Retry-After", *f->retry_after);
      co_return r;
    }
    const auto& o = std::get<order>(created);
    auto r = html(201, order_created_page(o));
    r.headers.emplace("Location", "/orders/" + std::to_string(o.id));
    co_return r;
  }

  asio::awaitable<http::response> list_orders(http::request& req) {
    auto parsed = parse_list_query(req.query);
    if (auto* errs = std::get_if<core::json::validation_errors>(&parsed))
      co_return html(422, list_error_page(req.query, describe(*errs)));
    auto q = std::get<list_query>(parsed);
    auto one_more = q;
    one_more.limit = q.limit + 1;  // to know whether there is a next page
    auto rows = co_await b.list(one_more);
    if (auto* f = std::get_if<failure>(&rows)) co_return html_failure(*f);
    auto& orders = std::get<std::vector<order>>(rows);
    bool has_next = static_cast<std::int64_t>(orders.size()) > q.limit;
    if (has_next) orders.resize(static_cast<std::size_t>(q.limit));
    co_return html(200, list_page(q, orders, has_next));
  }

  asio::awaitable<http::response> docs(http::request&) { co_return html(200, docs_page()); }

  asio::awaitable<http::response> openapi_json(http::request&) {
    auto r = http::response::json(200, openapi);
    r.headers.emplace("Cache-Control", "no-cache");
    co_return r;
  }

  asio::awaitable<http::response> dashboard_html(http::request&) {
    co_return html(200, dashboard_page(dash->groups()));
  }

  asio::awaitable<http::response> dashboard_data(http::request& req) {
    int seconds = 300;
    if (auto s = req.query_param("seconds")) {
      auto parsed = parse_integer(*s);
      if (!parsed)
        co_return http::response::json(422, core::json::encode_validation_errors(
                                                {{{"query", "seconds"}, "value is not a valid integer", "type_error.integer"}}));
      auto v = *parsed;
      if (v < 10 || v > 900)
        co_return http::response::json(
            422, core::json::encode_validation_errors({{{"query", "seconds"},
                                                        v < 10 ? "ensure this value is greater than or equal to 10"
                                                               : "ensure this value is less than or equal to 900",
                                                        v < 10 ? "value_error.number.not_ge" : "value_error.number.not_le"}}));
      seconds = static_cast<int>(v);
    }
    auto r = http::response::json(200, dash->data(seconds));
    r.headers.emplace("Cache-Control", "no-store");
    co_return r;
  }

  asio::awaitable<http::response> dashboard_mark(http::request& req) {
    if (auto denied = b.check_auth(req)) co_return *denied;
    if (!form_content_type(req))
      co_return http::response::error(415, "Content-Type must be application/x-www-form-urlencoded");
    auto fields = http::parse_query(req.body);
    if (!fields)
      co_return http::response::json(
          422, core::json::encode_validation_errors({{{"body"}, "malformed form data (a bad %-escape)", "value_error.form"}}));
    core::json::validation_errors errs;
    auto name = fields->find("name");
    auto phase = fields->find("phase");
    if (name == fields->end()) errs.push_back({{"body", "name"}, "field required", "value_error.missing"});
    if (phase == fields->end()) errs.push_back({{"body", "phase"}, "field required", "value_error.missing"});
    if (errs.empty()) {
      if (name->second.empty() || utf8_length(name->second) > 200)
        errs.push_back({{"body", "name"}, "ensure this value has 1 to 200 characters", "value_error.any_str.length"});
      if (phase->second != "start" && phase->second != "end")
        errs.push_back({{"body", "phase"}, "value is not a valid enumeration member; permitted: 'start', 'end'",
                        "type_error.enum"});
    }
    if (!errs.empty()) co_return http::response::json(422, core::json::encode_validation_errors(errs));
    if (auto e = dash->mark(name->second, phase->second)) co_return http::response::error(409, *e);
    auto data = dash->marks_json();
    co_return http::response::json(200, "{\"marks\":" + data + "}");
  }

  asio::awaitable<http::response> static_file(const asset* a, http::request& req) { co_return file(*a, req); }

  http::response file(const asset& a, const http::request& req) const {
    http::response r;
    r.headers.emplace("ETag", std::string(a.etag));
    r.headers.emplace("Cache-Control", "public, max-age=300");
    r.headers.emplace("X-Content-Type-Options", "nosniff");
    if (!a.gzip.empty()) r.headers.emplace("Vary", "Accept-Encoding");
    if (auto inm = req.header("If-None-Match"); inm && inm->find(a.etag) != std::string_view::npos) {
      r.status = 304;
      return r;
    }
    r.status = 200;
    r.content_type = std::string(a.content_type) + (text_type(a.content_type) ? "; charset=utf-8" : "");
    auto bytes = a.data;
    if (!a.gzip.empty() && accepts_gzip(req)) {
      bytes = a.gzip;
      r.headers.emplace("Content-Encoding", "gzip");
    }
    r.body.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return r;
  }
};

}  // namespace

http::response to_response(const failure& f) {
  auto r = http::response::error(f.status, f.detail);
  if (f.retry_after) r.headers.emplace("Retry-After", *f.retry_after);
  return r;
}

void add_routes(http::server& server, backend b, std::shared_ptr<dashboard> dash, options opts) {
  auto h = std::make_shared<handlers>();
  h->b = std::move(b);
  h->dash = std::move(dash);
  h->opts = opts;
  h->openapi = openapi_document({opts.max_body_bytes});
  auto bind = [h](asio::awaitable<http::response> (handlers::*fn)(http::request&)) {
    return [h, fn](http::request& r) { return ((*h).*fn)(r); };
  };
  server.route("GET", "/create_order", bind(&handlers::create_form));
  server.route("POST", "/create_order", bind(&handlers::create_from_form));
  server.route("GET", "/list_orders", bind(&handlers::list_orders));
  server.route("GET", "/docs", bind(&handlers::docs));
  server.route("GET", "/openapi.json", bind(&handlers::openapi_json));
  server.route("GET", "/dashboard", bind(&handlers::dashboard_html));
  server.route("GET", "/dashboard/data", bind(&handlers::dashboard_data));
  server.route("POST", "/dashboard/marks", bind(&handlers::dashboard_mark));
  for (const auto& a : embedded_assets()) {
    const asset* ap = &a;
    server.route("GET", std::string(a.path), [h, ap](http::request& r) { return h->static_file(ap, r); });
  }
}

}  // namespace pokeflow::roles::api::web
