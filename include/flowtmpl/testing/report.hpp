// flowtmpl/testing/report.hpp: what the conformance kit's checks return.
//
//   rep.expect("round_trip", cond, "what went wrong")   one check run (failed unless cond)
//   rep.skip("jacobian", "why it did not run")           a check that did not run
//   rep.ok()          at least one check ran and none failed (an empty report is not ok)
//   rep.checks()      how many checks ran; rep.count(name), rep.failed(name) per check
//   rep.skipped()     the checks that did not run, each with its reason
//   rep.text()        all of it in words: the tally per check, the skipped checks and
//                     why, the notes (the sweep's ranges), and the first 50 failures
//
// A skipped check counts neither as run nor as passed.
#pragma once

#include <cstddef>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace flowtmpl::testing {

class report {
 public:
  struct tally {
    int run = 0;
    int failed = 0;
  };
  struct skipped_check {
    std::string check;
    std::string reason;
  };
  // failure messages kept in full (the tallies count every failure)
  static constexpr std::size_t max_messages = 50;

  // One run of the check `check`: a failure (described by `what`) unless cond holds.
  void expect(const std::string& check, bool cond, const std::string& what) {
    tally& t = tallies_[check];
    ++t.run;
    if (cond) return;
    ++t.failed;
    if (failures_.size() < max_messages) failures_.push_back(check + ": " + what);
  }
  // `check` did not run, for `reason` (listed once, however often it is called).
  void skip(const std::string& check, const std::string& reason) {
    for (const auto& s : skipped_)
      if (s.check == check) return;
    skipped_.push_back({check, reason});
  }
  // Each check of `checks` that neither ran nor was skipped so far is skipped for `reason`.
  void skip_unrun(const std::vector<std::string>& checks, const std::string& reason) {
    for (const auto& c : checks)
      if (count(c) == 0) skip(c, reason);
  }
  // A line for text() that is neither a check nor a failure (what a sweep covered).
  void note(const std::string& line) { notes_.push_back(line); }

  bool ok() const { return checks() > 0 && failed() == 0; }
  int checks() const {
    int n = 0;
    for (const auto& [name, t] : tallies_) n += t.run;
    return n;
  }
  int failed() const {
    int n = 0;
    for (const auto& [name, t] : tallies_) n += t.failed;
    return n;
  }
  int count(const std::string& check) const {
    const auto it = tallies_.find(check);
    return it == tallies_.end() ? 0 : it->second.run;
  }
  int failed(const std::string& check) const {
    const auto it = tallies_.find(check);
    return it == tallies_.end() ? 0 : it->second.failed;
  }
  bool was_skipped(const std::string& check) const {
    for (const auto& s : skipped_)
      if (s.check == check) return true;
    return false;
  }
  const std::map<std::string, tally>& tallies() const { return tallies_; }
  const std::vector<skipped_check>& skipped() const { return skipped_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const std::vector<std::string>& failures() const { return failures_; }

  std::string text() const {
    std::ostringstream s;
    s << checks() << " checks run, " << failed() << " failed, " << skipped_.size() << " skipped";
    if (checks() == 0) s << " (nothing ran: not ok)";
    s << "\n";
    for (const auto& [name, t] : tallies_) s << "  " << name << ": " << t.run << " run, " << t.failed << " failed\n";
    for (const auto& k : skipped_) s << "  " << k.check << ": skipped, " << k.reason << "\n";
    for (const auto& n : notes_) s << "  note: " << n << "\n";
    if (!failures_.empty()) {
      s << "failures";
      if (std::size_t(failed()) > failures_.size()) s << " (the first " << failures_.size() << ")";
      s << ":\n";
      for (const auto& f : failures_) s << "  " << f << "\n";
    }
    return s.str();
  }

 private:
  std::map<std::string, tally> tallies_;
  std::vector<skipped_check> skipped_;
  std::vector<std::string> notes_;
  std::vector<std::string> failures_;
};

namespace detail {
// (v0, v1, ...) to 17 digits: a point in a message.
template <class V>
std::string show(const V& v) {
  std::ostringstream s;
  s.precision(17);
  s << "(";
  for (int i = 0; i < int(v.size()); ++i) s << (i ? ", " : "") << double(v[i]);
  s << ")";
  return s.str();
}
}  // namespace detail

}  // namespace flowtmpl::testing
