#include "core/ledger.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "core/text.hpp"

namespace pokeflow::core::ledger {
namespace {

void append_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Splits one CSV line; nullopt on an unterminated quote.
std::optional<std::vector<std::string>> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          fields.back().push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  if (quoted) return std::nullopt;
  return fields;
}

bool to_int(const std::string& s, std::int64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool to_double(const std::string& s, double& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

std::string format_ledger_row(const ledger_row& r) {
  std::string out;
  out.reserve(96);
  out += std::to_string(r.order_id);
  out += ',';
  out += std::to_string(r.user_id);
  out += ',';
  append_field(out, r.pokemon);
  out += ',';
  append_field(out, r.country);
  out += ',';
  char price[32];
  std::snprintf(price, sizeof price, "%.2f", r.price);
  out += price;
  for (auto v : {r.intended_us, r.sent_us, r.acked_us}) {
    out += ',';
    out += std::to_string(v);
  }
  return out;
}

std::optional<ledger_row> parse_ledger_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto f = split_csv(line);
  if (!f || f->size() != 8) return std::nullopt;
  ledger_row r;
  auto& v = *f;
  if (!to_int(v[0], r.order_id) || !to_int(v[1], r.user_id) || !to_double(v[4], r.price) ||
      !to_int(v[5], r.intended_us) || !to_int(v[6], r.sent_us) || !to_int(v[7], r.acked_us))
    return std::nullopt;
  r.pokemon = std::move(v[2]);
  r.country = std::move(v[3]);
  return r;
}

ledger_contents parse_ledger(std::string_view text) {
  ledger_contents out;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string_view::npos) {
      out.truncated_tail = true;  // never finished: the writer died mid-line
      break;
    }
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line_no == 1) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line != ledger_header)
        throw std::runtime_error("line 1: expected the header '" + std::string(ledger_header) + "'");
      continue;
    }
    if (line.empty() || line == "\r") continue;
    auto row = parse_ledger_line(line);
    if (!row) throw std::runtime_error("line " + std::to_string(line_no) + ": malformed ledger row");
    out.rows.push_back(std::move(*row));
  }
  if (line_no == 0 || (line_no == 1 && out.truncated_tail))
    throw std::runtime_error("empty ledger: expected the header '" + std::string(ledger_header) + "'");
  return out;
}

ledger_contents read_ledger(const std::string& path) {
  return text::parse_file(path, "ledger", parse_ledger);
}

ledger_writer::ledger_writer(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("ledger " + path + ": " + std::strerror(errno));
  buffer_.append(ledger_header);
  buffer_.push_back('\n');
  flush();
}

ledger_writer::~ledger_writer() {
  try {
    flush();
  } catch (...) {
  }
  if (fd_ >= 0) ::close(fd_);
}

void ledger_writer::append(const ledger_row& r) {
  buffer_ += format_ledger_row(r);
  buffer_ += '\n';
  ++rows_;
  if (buffer_.size() >= 256 * 1024) flush();
}

void ledger_writer::flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    auto n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto msg = std::string(std::strerror(errno));
      buffer_.erase(0, done);
      throw std::runtime_error("ledger " + path_ + ": " + msg);
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

}  // namespace pokeflow::core::ledger
