// flowtmpl/host/exec_policy_overloads.hpp: the host entry points with the execution
// policy first (flowtmpl/exec.hpp): forward(exec::host, b, x, ...) is forward(b, x,
// ...), and likewise inverse, forward_and_log_det, inverse_and_log_det, log_det,
// log_prob, sample and sample_and_log_prob, so code written for a backend chosen by a
// template parameter names the policy in every call. They forward their arguments;
// nothing is copied, and the checks and refusals are those of the function forwarded to
// (a bad temperature: "sample: the temperature is 0; ...").
#pragma once

#include <utility>

#include "../exec.hpp"
#include "bijector_entry_points.hpp"
#include "conditional_entry_points.hpp"
#include "context_diagnostics.hpp"
#include "distribution_entry_points.hpp"

namespace flowtmpl {

#define FLOWTMPL_HOST_POLICY_OVERLOAD(fn)                                         \
  template <class T, class... A>                                                  \
  auto fn(exec::host_t, T&& t, A&&... a)->decltype(flowtmpl::fn(std::forward<T>(t), std::forward<A>(a)...)) { \
    return flowtmpl::fn(std::forward<T>(t), std::forward<A>(a)...);               \
  }
FLOWTMPL_HOST_POLICY_OVERLOAD(forward)
FLOWTMPL_HOST_POLICY_OVERLOAD(inverse)
FLOWTMPL_HOST_POLICY_OVERLOAD(forward_and_log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(inverse_and_log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(log_prob)
FLOWTMPL_HOST_POLICY_OVERLOAD(sample)
FLOWTMPL_HOST_POLICY_OVERLOAD(sample_and_log_prob)
#undef FLOWTMPL_HOST_POLICY_OVERLOAD

}  // namespace flowtmpl
