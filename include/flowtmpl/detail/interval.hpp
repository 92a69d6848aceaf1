// flowtmpl/detail/interval.hpp: the per-component domain of a bijector's input, as
// checked by the host backend's checked mode and documented in each header.
#pragma once

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace flowtmpl {

template <class S>
struct interval {
  S lo = -std::numeric_limits<S>::infinity();
  S hi = std::numeric_limits<S>::infinity();
  bool lo_closed = false;
  bool hi_closed = false;

  static constexpr interval real_line() { return {}; }
  static constexpr interval open(S a, S b) { return {a, b, false, false}; }

  // NaN is in no interval; +-inf only where an end is infinite and closed.
  constexpr bool contains(S v) const {
    const bool above = lo_closed ? (v >= lo) : (v > lo);
    const bool below = hi_closed ? (v <= hi) : (v < hi);
    return above && below && (v == v) && v != std::numeric_limits<S>::infinity() &&
           v != -std::numeric_limits<S>::infinity();
  }

  std::string to_string() const {
    auto num = [](S v) -> std::string {
      if (v == std::numeric_limits<S>::infinity()) return "inf";
      if (v == -std::numeric_limits<S>::infinity()) return "-inf";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", double(v));
      return buf;
    };
    std::string s(lo_closed ? "[" : "(");
    s.append(num(lo)).append(", ").append(num(hi)).append(hi_closed ? "]" : ")");
    return s;
  }
};

}  // namespace flowtmpl
