// A type that is neither a spec nor a Bijector (a user's struct that forgot log_det)
// written into a compose.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::layer_is_neither_a_bijector_spec_nor_a_bijector<2, half_a_layer<2> >'
// expect: static assertion failed: flowtmpl: this layer is neither a spec
// expect: the required expression 'b.log_det\(x\)' is invalid
#include <flowtmpl/bijectors/exp.hpp>
#include <flowtmpl/bijectors/shift.hpp>
#include <flowtmpl/chain.hpp>

template <int D>
struct half_a_layer {
  using scalar_type = double;
  using structure = flowtmpl::structure::identity;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "half";
  using vec = Eigen::Matrix<double, D, 1>;
  vec forward(const vec& x) const { return x; }
  vec inverse(const vec& y) const { return y; }
#ifndef FLOWTMPL_FAILTEST_BROKEN
  double log_det(const vec&) const { return 0.0; }
#endif
};

using flow = flowtmpl::bind_t<flowtmpl::compose<flowtmpl::Shift, flowtmpl::Exp, half_a_layer<2>>, 2, double>;
static_assert(flow::size == 3);

int main() {}
