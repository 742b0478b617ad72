#pragma once
// The dashboard's data, as pure logic (no Asio, no database): one point per second, the
// fault windows marked by the chaos suite, and POST latency percentiles.
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::roles::api::web {

// Terminal states in the order the dashboard draws them.
inline constexpr std::array<std::string_view, 4> finalized_states{"success", "rejected", "failed", "reversed"};

// Orders counted in PostgreSQL for one second: created (by creation time) or finalized into
// a state (by transition time).
struct count_row {
  std::int64_t second = 0;          // unix seconds
  std::optional<std::size_t> state;  // index in finalized_states; nullopt = created
  std::int64_t count = 0;
};

// What the api saw at one second (nullopt: unknown, drawn as a gap).
struct gauges {
  std::optional<double> outbox_backlog;
  std::optional<double> outbox_oldest_age_s;
  std::optional<double> dlq_messages;
  std::optional<double> post_p99_ms;
  std::vector<std::optional<double>> lag;  // one per watched consumer group
};

struct point {
  std::optional<std::int64_t> created;
  std::array<std::optional<std::int64_t>, finalized_states.size()> finalized{};
  gauges g;
};

class timeline {
 public:
  // groups: consumer groups whose lag is shown; capacity: seconds kept.
  explicit timeline(std::vector<std::string> groups, std::size_t capacity_s = 900);

  // Counts for every second in [complete_from, until] (both unix seconds): a second without a
  // row had none. Earlier seconds in rows are ignored: the query saw only part of them.
  void set_counts(std::int64_t complete_from, std::int64_t until, const std::vector<count_row>& rows);
  void set_gauges(std::int64_t second, gauges g);

  // {"t":[...],"created":[...],"finalized":{state:[...]},"lag":{group:[...]},"outbox_backlog":[...],
  //  "outbox_oldest_age_s":[...],"dlq_messages":[...],"post_p99_ms":[...]} for seconds
  // [from, to], one entry per second, null where unknown.
  std::string to_json(std::int64_t from, std::int64_t to) const;

  const std::vector<std::string>& groups() const noexcept { return groups_; }
  const point* at(std::int64_t second) const;
  // The oldest second kept, if any.
  std::optional<std::int64_t> first_second() const;

 private:
  point* slot(std::int64_t second);  // nullptr when older than the window kept
  std::vector<std::string> groups_;
  std::size_t capacity_;
  std::map<std::int64_t, point> points_;
};

// Fault windows: a start opens a window named `name` (a no-op while one is open), an end
// closes the newest window of that name (or moves its end later: several restore steps).
struct mark {
  std::string name;
  double start = 0;
  std::optional<double> end;
};

class marks {
 public:
  explicit marks(std::size_t capacity = 200) : capacity_(capacity) {}
  // phase "start" or "end"; returns the error message for anything else (name empty or over
  // 200 characters, unknown phase, an end with no window of that name).
  std::optional<std::string> add(std::string_view name, std::string_view phase, double now);
  // {"name":...,"start":...,"end":...|null} windows overlapping [from, to].
  std::string to_json(double from, double to) const;
  const std::deque<mark>& all() const noexcept { return marks_; }

 private:
  std::size_t capacity_;
  std::deque<mark> marks_;
};

// POST latencies of the current second: exact p99 of up to `cap` samples (a uniform sample of
// them beyond that).
class latency_window {
 public:
  explicit latency_window(std::size_t cap = 8192) : cap_(cap) {}
  void observe(double ms);
  // p99 of what was observed since the last take (nullopt if nothing), and starts afresh.
  std::optional<double> take_p99();

 private:
  std::size_t cap_;
  std::uint64_t seen_ = 0;
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
  std::vector<double> samples_;
};

// Characters (code points) of a UTF-8 string.
std::size_t utf8_length(std::string_view s) noexcept;

// Nearest-rank percentile (0 < q <= 100) of unsorted values; nullopt when empty.
std::optional<double> percentile(std::vector<double> values, double q);

}  // namespace pokeflow::roles::api::web
