#include "core/http/router.hpp"

#include <cstdio>
#include <stdexcept>

namespace pokeflow::core::http {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/" into {"a","b"}; a trailing slash adds no segment, but inner empty
// segments ("/a//b") are kept so they never silently match a parameter.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_param(std::string_view seg) noexcept {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

// Literal segments score 1, parameters 0; compared left to right.
bool more_specific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool la = !is_param(a[i]), lb = !is_param(b[i]);
    if (la != lb) return la;
  }
  return false;
}

bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path,
                    std::map<std::string, std::string>& params) {
  if (pattern.size() != path.size()) return false;
  std::map<std::string, std::string> captured;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (is_param(p)) {
      if (path[i].empty()) return false;
      auto decoded = percent_decode(path[i]);
      if (!decoded) return false;
      captured[p.substr(1, p.size() - 2)] = std::move(*decoded);
    } else if (p != path[i]) {
      return false;
    }
  }
  params = std::move(captured);
  return true;
}

std::vector<std::string> pattern_segments(std::string_view pattern) {
  std::vector<std::string> out;
  for (auto s : split_path(pattern)) out.emplace_back(s);
  return out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>("") : percent_decode(pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out[std::move(*key)] = std::move(*value);
  }
  return out;
}

bool match_pattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
  return match_segments(pattern_segments(pattern), split_path(path), params);
}

void router::add(std::string method, std::string pattern, handler h) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("http route pattern must start with '/': " + pattern);
  if (method.empty()) throw std::invalid_argument("http route needs a method: " + pattern);
  if (!h) throw std::invalid_argument("http route needs a handler: " + method + " " + pattern);
  auto segments = pattern_segments(pattern);
  for (const auto& s : segments) {
    bool braces = s.find_first_of("{}") != std::string::npos;
    if (s.empty() || (braces && (!is_param(s) || s.size() == 2 || s.find_first_of("{}", 1) != s.size() - 1)))
      throw std::invalid_argument("http route pattern has a malformed segment: " + pattern);
  }
  for (auto& r : routes_) {
    if (r.segments != segments) continue;
    if (!r.by_method.emplace(method, std::move(h)).second)
      throw std::invalid_argument("http route registered twice: " + method + " " + pattern);
    return;
  }
  route r{std::move(pattern), std::move(segments), {}};
  r.by_method.emplace(std::move(method), std::move(h));
  routes_.push_back(std::move(r));
}

router::match_result router::match(std::string_view method, std::string_view path) const {
  match_result result;
  auto segments = split_path(path);
  const route* best = nullptr;
  std::map<std::string, std::string> best_params;
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match_segments(r.segments, segments, params)) continue;
    bool has_method = r.by_method.count(std::string(method)) > 0;
    // A route that accepts the method beats one that does not, then specificity decides.
    bool best_has_method = best && best->by_method.count(std::string(method)) > 0;
    if (!best || (has_method && !best_has_method) ||
        (has_method == best_has_method && more_specific(r.segments, best->segments))) {
      best = &r;
      best_params = std::move(params);
    }
  }
  if (!best) return result;
  result.pattern = best->pattern;
  auto it = best->by_method.find(std::string(method));
  if (it == best->by_method.end()) {
    result.outcome = match_result::kind::method_not_allowed;
    for (const auto& [m, _] : best->by_method) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += m;
    }
    return result;
  }
  result.outcome = match_result::kind::found;
  result.h = &it->second;
  result.params = std::move(best_params);
  return result;
}

}  // namespace pokeflow::core::http
