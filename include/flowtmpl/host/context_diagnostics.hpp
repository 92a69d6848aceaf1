// flowtmpl/host/context_diagnostics.hpp: the host batch entry points called on a
// conditional flow without its context, or with a context on a flow that reads none.
// Each is a compile-time error whose first line names the diagnostic and the flow
// (diagnostics.hpp): conditional_flow_called_without_its_context<Flow>,
// flow_without_context_given_a_context<Flow>. These overloads exist only to say so;
// they are never called by a program that compiles.
#pragma once

#include <cstdint>

#include "../detail/eigen.hpp"

#include "../concepts.hpp"
#include "../diagnostics.hpp"
#include "batch.hpp"
#include "checked_mode.hpp"

namespace flowtmpl {

// ---- a conditional flow without its context -----------------------------------------------
template <ConditionalBijector B, class DX, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> forward(const B&, const Eigen::MatrixBase<DX>&, Mode = Mode{}) {
  return detail::without_its_context<B, batch_t<typename B::scalar_type, B::dim>>();
}
template <ConditionalBijector B, class DX, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> inverse(const B&, const Eigen::MatrixBase<DX>&, Mode = Mode{}) {
  return detail::without_its_context<B, batch_t<typename B::scalar_type, B::dim>>();
}
template <ConditionalBijector B, class DX, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B&, const Eigen::MatrixBase<DX>&,
                                                                  Mode = Mode{}) {
  return detail::without_its_context<B, batch_result<typename B::scalar_type, B::dim>>();
}
template <ConditionalBijector B, class DX, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B&, const Eigen::MatrixBase<DX>&,
                                                                  Mode = Mode{}) {
  return detail::without_its_context<B, batch_result<typename B::scalar_type, B::dim>>();
}
template <ConditionalBijector B, class DX, detail::evaluation_mode Mode = unchecked_t>
row_t<typename B::scalar_type> log_det(const B&, const Eigen::MatrixBase<DX>&, Mode = Mode{}) {
  return detail::without_its_context<B, row_t<typename B::scalar_type>>();
}
template <ConditionalDistribution Dist, class DX, detail::evaluation_mode Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist&, const Eigen::MatrixBase<DX>&, Mode = Mode{}) {
  return detail::without_its_context<Dist, row_t<typename Dist::scalar_type>>();
}
template <ConditionalDistribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist&, Eigen::Index, std::uint64_t) {
  return detail::without_its_context<Dist, batch_t<typename Dist::scalar_type, Dist::dim>>();
}
template <ConditionalDistribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist&, Eigen::Index, std::uint64_t,
                                                      typename Dist::scalar_type) {
  return detail::without_its_context<Dist, batch_t<typename Dist::scalar_type, Dist::dim>>();
}
template <ConditionalDistribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist&, Eigen::Index, std::uint64_t) {
  return detail::without_its_context<Dist, batch_result<typename Dist::scalar_type, Dist::dim>>();
}
template <ConditionalDistribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist&, Eigen::Index, std::uint64_t,
                                                                        typename Dist::scalar_type) {
  return detail::without_its_context<Dist, batch_result<typename Dist::scalar_type, Dist::dim>>();
}

// ---- a context for a flow that reads none ---------------------------------------------------
template <Bijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> forward(const B&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&,
                                                 Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<B, batch_t<typename B::scalar_type, B::dim>>();
}
template <Bijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> inverse(const B&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&,
                                                 Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<B, batch_t<typename B::scalar_type, B::dim>>();
}
template <Bijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B&, const Eigen::MatrixBase<DX>&,
                                                                  const Eigen::MatrixBase<DC>&, Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<B, batch_result<typename B::scalar_type, B::dim>>();
}
template <Bijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B&, const Eigen::MatrixBase<DX>&,
                                                                  const Eigen::MatrixBase<DC>&, Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<B, batch_result<typename B::scalar_type, B::dim>>();
}
template <Bijector B, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
row_t<typename B::scalar_type> log_det(const B&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&,
                                       Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<B, row_t<typename B::scalar_type>>();
}
template <Distribution Dist, class DX, class DC, detail::evaluation_mode Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist&, const Eigen::MatrixBase<DX>&, const Eigen::MatrixBase<DC>&,
                                           Mode = Mode{}) {
  return detail::with_a_context_it_does_not_read<Dist, row_t<typename Dist::scalar_type>>();
}
template <Distribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist&, Eigen::Index, std::uint64_t,
                                                      const Eigen::MatrixBase<DC>&) {
  return detail::with_a_context_it_does_not_read<Dist, batch_t<typename Dist::scalar_type, Dist::dim>>();
}
template <Distribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist&, Eigen::Index, std::uint64_t,
                                                                        const Eigen::MatrixBase<DC>&) {
  return detail::with_a_context_it_does_not_read<Dist, batch_result<typename Dist::scalar_type, Dist::dim>>();
}

}  // namespace flowtmpl
