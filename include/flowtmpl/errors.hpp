// flowtmpl/errors.hpp: the exceptions flowtmpl throws, all from host-side entry points
// (never from the per-sample math):
//   flowtmpl::argument_error an argument outside the domain its function documents (a
//                            temperature that is not finite and positive, a tolerance
//                            or iteration cap out of range, a negative count); what()
//                            is one sentence that starts with the function's name.
//   flowtmpl::shape_error    a batch with the wrong number of rows, mismatched batch
//                            sizes, too few samples for a data-dependent init (an
//                            argument_error).
//   flowtmpl::domain_error   checked mode: a value outside a layer's domain, a
//                            non-finite value, or invalid parameters. what() names the
//                            layer (its position and name), the sample index, the
//                            component and the offending value.
// Without exceptions (-fno-exceptions), FLOWTMPL_FAIL prints the message to stderr and
// calls std::abort().
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "config.hpp"

namespace flowtmpl {

struct argument_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct shape_error : argument_error {
  using argument_error::argument_error;
};

struct domain_error : std::domain_error {
  domain_error(const std::string& what, std::string layer_, long sample_, int component_, double value_)
      : std::domain_error(what), layer(std::move(layer_)), sample(sample_), component(component_), value(value_) {}
  std::string layer;  // "layer 2 (Logit)"; nested chains give the path, "layer 1.0 (Exp)"
  long sample;        // index of the sample (column) in the batch
  int component;      // component of that sample, or -1 for the log-det or the parameters
  double value;       // the offending value
};

namespace detail {
// A message from pieces (text, integers, floating-point values), appended in order.
// (Appending, rather than "text" + std::string, also keeps g++ 12 -O3 from a false
// -Wrestrict warning inside libstdc++.)
inline void append_piece(std::string& s, std::string_view v) { s.append(v.data(), v.size()); }
inline void append_piece(std::string& s, const char* v) { s.append(v); }
inline void append_piece(std::string& s, const std::string& v) { s.append(v); }
inline void append_piece(std::string& s, char v) { s.push_back(v); }
template <class T>
  requires std::is_arithmetic_v<T>
void append_piece(std::string& s, T v) {
  if constexpr (std::is_integral_v<T>) {
    s.append(std::to_string(v));
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", double(v));
    s.append(buf);
  }
}
template <class... P>
std::string message(const P&... pieces) {
  std::string s;
  (append_piece(s, pieces), ...);
  return s;
}

[[noreturn]] inline void fail_shape(const std::string& msg) {
#if FLOWTMPL_HAS_EXCEPTIONS
  throw shape_error(msg);
#else
  std::fprintf(stderr, "flowtmpl: %s\n", msg.c_str());
  std::abort();
#endif
}

[[noreturn]] inline void fail_argument(const std::string& msg) {
#if FLOWTMPL_HAS_EXCEPTIONS
  throw argument_error(msg);
#else
  std::fprintf(stderr, "flowtmpl: %s\n", msg.c_str());
  std::abort();
#endif
}

[[noreturn]] inline void fail_domain(const std::string& msg, const std::string& layer, long sample, int component,
                                     double value) {
#if FLOWTMPL_HAS_EXCEPTIONS
  throw domain_error(msg, layer, sample, component, value);
#else
  (void)layer, (void)sample, (void)component, (void)value;
  std::fprintf(stderr, "flowtmpl: %s\n", msg.c_str());
  std::abort();
#endif
}
}  // namespace detail

}  // namespace flowtmpl
