// flowtmpl/detail/prepared_forwarding.hpp: what the dense layers with a prepared form
// share (Planar, Radial: prepare() forms, from the raw parameters, the numbers that the
// formulas need, in O(D) with a few transcendental functions; the host prepares once
// per batch call).
//   dense_layer_traits<D, S>     the traits of a layer of dimension D whose Jacobian is
//                                dense and whose log-det depends on the input, for the
//                                layer and its prepared form (each adds its name)
//   prepared_forwarding<L, D, S> forward, inverse, log_det, the fused forms and the
//                                Jacobian of layer L, each as L's prepare() followed by
//                                the prepared layer's member of the same name
// Both are empty bases: the layer's layout does not change.
#pragma once

#include "eigen.hpp"

#include "../core.hpp"

namespace flowtmpl::detail {

template <int D, class S>
struct dense_layer_traits {
  using scalar_type = S;
  using structure = flowtmpl::structure::dense;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::input_dependent;
  using vec = Eigen::Matrix<S, D, 1>;
  using mat = Eigen::Matrix<S, D, D>;
};

template <class Layer, int D, class S>
struct prepared_forwarding : dense_layer_traits<D, S> {
  using typename dense_layer_traits<D, S>::vec;
  using typename dense_layer_traits<D, S>::mat;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& z) const { return layer().prepare().forward(z); }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return layer().prepare().inverse(y); }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z) const { return layer().prepare().log_det(z); }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z) const {
    return layer().prepare().forward_and_log_det(z);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    return layer().prepare().inverse_and_log_det(y);
  }
  mat jacobian(const vec& z) const { return layer().prepare().jacobian(z); }

 private:
  FLOWTMPL_HOST_DEVICE const Layer& layer() const { return static_cast<const Layer&>(*this); }
};

}  // namespace flowtmpl::detail
