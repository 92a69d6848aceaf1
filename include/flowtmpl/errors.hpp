// flowtmpl/errors.hpp: the exceptions flowtmpl throws, all from host-side entry points
// (never from the per-sample math):
//   flowtmpl::shape_error    a batch with the wrong number of rows, mismatched batch
//                            sizes, too few samples for a data-dependent init.
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

#include "config.hpp"

namespace flowtmpl {

struct shape_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
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
[[noreturn]] inline void fail_shape(const std::string& msg) {
#if FLOWTMPL_HAS_EXCEPTIONS
  throw shape_error(msg);
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
