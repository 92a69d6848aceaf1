// jacobian(b, x) of a user's bijector that has no jacobian(x) member and a structure
// (lower triangular) that does not give one.
// expect-first: In instantiation of 'struct flowtmpl::diagnostic::bijector_has_no_jacobian_member<shear>'
// expect: static assertion failed: flowtmpl::jacobian: this bijector has no jacobian\(x\) member; add one returning the dense D x D matrix df/dx
// max-errors: 1
#include <flowtmpl/jacobian.hpp>

struct shear {  // y0 = x0, y1 = x1 + x0
  using scalar_type = double;
  using structure = flowtmpl::structure::lower_triangular;
  static constexpr int dim = 2;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::zero;
  static constexpr const char* name = "shear";
  using vec = Eigen::Vector2d;
  vec forward(const vec& x) const { return {x[0], x[1] + x[0]}; }
  vec inverse(const vec& y) const { return {y[0], y[1] - y[0]}; }
  double log_det(const vec&) const { return 0.0; }
#ifndef FLOWTMPL_FAILTEST_BROKEN
  Eigen::Matrix2d jacobian(const vec&) const { return (Eigen::Matrix2d() << 1, 0, 1, 1).finished(); }
#endif
};
static_assert(flowtmpl::Bijector<shear>);

int main() {
  const Eigen::Matrix2d j = flowtmpl::jacobian(shear{}, Eigen::Vector2d(0.5, -1.0));
  return j(1, 0) == 1.0 ? 0 : 1;
}
