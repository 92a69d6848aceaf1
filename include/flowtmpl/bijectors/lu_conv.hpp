// flowtmpl/bijectors/lu_conv.hpp: LUConv, Glow's invertible 1x1 convolution on vectors
// (Kingma & Dhariwal 2018) in its LU form:
//
//   y = W x + bias,   W = P L (U + diag(s))
//
// P a fixed permutation (P_{i, perm[i]} = 1, so (P v)_i = v_{perm[i]}), L unit lower
// triangular, U strictly upper triangular, s the diagonal. Parameters, in nflows's
// LULinear layout: lower_entries[D(D-1)/2] (row-major below the diagonal),
// upper_entries[D(D-1)/2] (row-major above it), diag[D] (the raw diagonal parameters,
// see below), bias[D]. The permutation and the signs are fixed settings, set through
// from_matrix() or set_permutation() / set_signs(), which reject anything that is not a
// permutation of 0..D-1 or not +-1: the layer can never index outside its arrays.
//
// The diagonal s from the raw parameters, chosen by the spec:
//   LUConv                          s_i = signs_i * exp(diag_i)      (Glow; s never 0)
//   LUConvT<lu_diag::softplus>      s_i = softplus(diag_i) + 1e-3    (nflows's LULinear)
//   LUConvT<lu_diag::raw>           s_i = diag_i
// Domain: R^D both ways, when every s_i is finite and non-zero; validate() reports a
// zero or non-finite s_i (only lu_diag::raw can hold an exact zero, the others can
// underflow). Unchecked, a zero s_i makes the inverse divide by zero: +-inf or NaN in
// the outputs, never a crash. Finite range: W x (and the triangular solves of the
// inverse) overflow where the sums pass the scalar's max, e.g. at inputs near DBL_MAX:
// +-inf or NaN unchecked, refused in checked mode; inputs up to max / 2^28 with entries
// of moderate size are finite (the conformance sweep's range). Structure: dense. Log-det: sum_i log|s_i|, constant.
// Cost: D^2 multiply-adds per sample in either direction (two triangular products or
// solves); prepare() forms the dense W and W^-1 once (O(D^3)) for the batch path.
// Initially the identity (L = U = 0, s = 1, P = I, bias = 0).
//
// Gradients (flowtmpl/differentiable.hpp), with Ut = U + diag(s) and the intermediates
// z = Ut x, w = L z of the forward (y = P w + bias):
//   forward:  gw = P^T gy, gz = L^T gw, gx = Ut^T gz;
//             d/dL_ij = gw_i z_j (i > j), d/dU_ij = gz_i x_j (i < j),
//             d/ddiag_i = gz_i x_i ds_i/ddiag_i + gld d log|s_i|/ddiag_i, d/dbias = gy.
//   inverse:  gz solves Ut^T gz = gx (forward substitution), gw solves L^T gw = gz
//             (back substitution), gy = P gw; the parameters get minus the forward's
//             products at x = f^-1(y) for (gy, gld), since ild = -ld.
// The diagonal policy gives ds/draw and d log|s|/draw (dvalue, dlog_abs): exp: s and 1;
// softplus: sigmoid(raw) and sigmoid(raw) / s; raw: 1 and 1 / raw. A policy without them
// makes a layer without gradients.
#pragma once

#include <array>
#include <cmath>
#include <concepts>

#include <boost/hana/define_struct.hpp>
#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/math.hpp"
#include "../errors.hpp"
#include "per_pixel.hpp"

namespace flowtmpl {

namespace lu_diag {
struct exp {
  template <class S>
  FLOWTMPL_HOST_DEVICE static S value(S raw, S sign) {
    using std::exp;
    return sign * exp(raw);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S log_abs(S raw, S) {
    return raw;
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dvalue(S raw, S sign) {
    return value(raw, sign);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dlog_abs(S, S) {
    return S(1);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S raw_for(S s) {
    using std::abs, std::log;
    return log(abs(s));
  }
  template <class S>
  static constexpr S identity_raw = S(0);
};
struct softplus {
  template <class S>
  static constexpr S eps = S(1e-3);
  template <class S>
  FLOWTMPL_HOST_DEVICE static S value(S raw, S) {
    return detail::softplus_scalar(raw) + eps<S>;
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S log_abs(S raw, S sign) {
    using std::log;
    return log(value(raw, sign));
  }
  // sigmoid(raw), and sigmoid(raw) / s
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dvalue(S raw, S) {
    return detail::sigmoid_scalar(raw);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dlog_abs(S raw, S sign) {
    return dvalue(raw, sign) / value(raw, sign);
  }
  // softplus^-1(1 - eps) = log(exp(1 - eps) - 1), as nflows's identity init.
  template <class S>
  static constexpr S identity_raw = S(0.5397424172369519);
};
struct raw {
  template <class S>
  FLOWTMPL_HOST_DEVICE static S value(S r, S) {
    return r;
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S log_abs(S r, S) {
    using std::abs, std::log;
    return log(abs(r));
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dvalue(S, S) {
    return S(1);
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S dlog_abs(S r, S) {
    return S(1) / r;
  }
  template <class S>
  FLOWTMPL_HOST_DEVICE static S raw_for(S s) {
    return s;
  }
  template <class S>
  static constexpr S identity_raw = S(1);
};
}  // namespace lu_diag

namespace detail {
// Row-major packed index of (i, j) below (j < i) and above (j > i) the diagonal.
FLOWTMPL_HOST_DEVICE constexpr int lower_index(int i, int j) { return i * (i - 1) / 2 + j; }
FLOWTMPL_HOST_DEVICE constexpr int upper_index(int d, int i, int j) { return i * d - i * (i + 1) / 2 + (j - i - 1); }

template <int D, class S>
struct prepared_linear {
  using scalar_type = S;
  using structure = flowtmpl::structure::dense;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::constant;
  static constexpr const char* name = "LUConv (prepared)";
  using vec = Eigen::Matrix<S, D, 1>;
  using mat = Eigen::Matrix<S, D, D>;

  mat w, w_inv;
  vec bias;
  S log_det_value;

  // Up to D = 16 Eigen's coefficient-based product, inlined and unrolled; Eigen would
  // otherwise send a fixed-size product of 8 or more to its out-of-line GEMV kernel,
  // which costs more than the arithmetic at that size. Above 16 the kernel wins.
  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    if constexpr (D <= 16)
      return w.lazyProduct(x) + bias;
    else
      return w * x + bias;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    if constexpr (D <= 16)
      return w_inv.lazyProduct(vec(y - bias));
    else
      return w_inv * (y - bias);
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return log_det_value; }
  FLOWTMPL_HOST_DEVICE S constant_log_det() const { return log_det_value; }
  mat jacobian(const vec&) const { return w; }
};
}  // namespace detail

template <class Diag, int D, class S>
struct LUConvBijector {
  using scalar_type = S;
  using structure = flowtmpl::structure::dense;
  static constexpr int dim = D;
  static constexpr flowtmpl::log_det_kind log_det_kind = flowtmpl::log_det_kind::constant;
  static constexpr const char* name = "LUConv";
  static constexpr int n_tri = D * (D - 1) / 2;
  using vec = Eigen::Matrix<S, D, 1>;
  using mat = Eigen::Matrix<S, D, D>;

  BOOST_HANA_DEFINE_STRUCT(LUConvBijector, (std::array<S, n_tri>, lower_entries), (std::array<S, n_tri>, upper_entries),
                           (std::array<S, D>, diag), (std::array<S, D>, bias));
  LUConvBijector() : lower_entries{}, upper_entries{}, diag{}, bias{} {
    for (int i = 0; i < D; ++i) {
      diag[i] = Diag::template identity_raw<S>;
      perm[i] = i;
      signs[i] = S(1);
    }
  }

  // perm[i]: (P v)_i = v_{perm[i]}.
  const std::array<int, D>& permutation() const { return perm; }
  const std::array<S, D>& sign() const { return signs; }
  // Throws flowtmpl::shape_error (aborts without exceptions) unless p is a permutation of 0..D-1.
  void set_permutation(const std::array<int, D>& p) {
    std::array<bool, D> seen{};
    for (int i = 0; i < D; ++i) {
      if (p[i] < 0 || p[i] >= D || seen[p[i]])
        detail::fail_shape(detail::message("LUConv::set_permutation: entry ", i, " (", p[i], ") makes it no permutation of 0..", D - 1));
      seen[p[i]] = true;
    }
    perm = p;
  }
  // Throws flowtmpl::shape_error unless every entry is +1 or -1 (lu_diag::exp only uses them).
  void set_signs(const std::array<S, D>& s) {
    for (int i = 0; i < D; ++i)
      if (s[i] != S(1) && s[i] != S(-1))
        detail::fail_shape(detail::message("LUConv::set_signs: entry ", i, " is ", s[i], ", not +1 or -1"));
    signs = s;
  }

  // The layer whose W is the given invertible matrix (partial-pivoting LU); bias 0.
  // Not for lu_diag::softplus, whose s cannot be negative.
  static LUConvBijector from_matrix(const mat& w)
    requires(!std::is_same_v<Diag, lu_diag::softplus>)
  {
    Eigen::PartialPivLU<mat> lu(w);
    const mat packed = lu.matrixLU();
    LUConvBijector b;
    for (int i = 0; i < D; ++i) {
      for (int j = 0; j < i; ++j) b.lower_entries[detail::lower_index(i, j)] = packed(i, j);
      for (int j = i + 1; j < D; ++j) b.upper_entries[detail::upper_index(D, i, j)] = packed(i, j);
      b.signs[i] = packed(i, i) < S(0) ? S(-1) : S(1);
      b.diag[i] = Diag::raw_for(packed(i, i));
    }
    // Eigen: P_lu W = L U, so W = P_lu^-1 L U and (P_lu^-1 v)_i = v_{indices[i]}.
    const auto& idx = lu.permutationP().indices();
    for (int i = 0; i < D; ++i) b.perm[i] = int(idx[i]);
    return b;
  }

  FLOWTMPL_HOST_DEVICE S s(int i) const { return Diag::value(diag[i], signs[i]); }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& x) const {
    vec z, w;
    for (int i = 0; i < D; ++i) {  // z = (U + diag(s)) x
      S acc = s(i) * x[i];
      for (int j = i + 1; j < D; ++j) acc += upper_entries[detail::upper_index(D, i, j)] * x[j];
      z[i] = acc;
    }
    for (int i = 0; i < D; ++i) {  // w = L z
      S acc = z[i];
      for (int j = 0; j < i; ++j) acc += lower_entries[detail::lower_index(i, j)] * z[j];
      w[i] = acc;
    }
    vec y;
    for (int i = 0; i < D; ++i) y[i] = w[perm[i]] + bias[i];
    return y;
  }

  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const {
    vec z, x;
    solve(y, z, x);
    return x;
  }
  // x = W^-1 (y - bias) by the two triangular solves, and z = (U + diag(s)) x between them
  FLOWTMPL_HOST_DEVICE void solve(const vec& y, vec& z, vec& x) const {
    vec w;
    for (int i = 0; i < D; ++i) w[perm[i]] = y[i] - bias[i];
    for (int i = 0; i < D; ++i) {  // L z = w
      S acc = w[i];
      for (int j = 0; j < i; ++j) acc -= lower_entries[detail::lower_index(i, j)] * z[j];
      z[i] = acc;
    }
    for (int i = D - 1; i >= 0; --i) {  // (U + diag(s)) x = z
      S acc = z[i];
      for (int j = i + 1; j < D; ++j) acc -= upper_entries[detail::upper_index(D, i, j)] * x[j];
      x[i] = acc / s(i);
    }
  }

  // gradients (flowtmpl/differentiable.hpp); the formulas are in the header comment.
  // They need the diagonal policy's derivatives (dvalue, dlog_abs).
  static constexpr bool has_diag_derivatives = requires(S v) {
    { Diag::dvalue(v, v) } -> std::convertible_to<S>;
    { Diag::dlog_abs(v, v) } -> std::convertible_to<S>;
  };

  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& x, const vec& gy, S gld, LUConvBijector& grad) const
    requires has_diag_derivatives
  {
    vec z;
    for (int i = 0; i < D; ++i) {  // z = Ut x
      S acc = s(i) * x[i];
      for (int j = i + 1; j < D; ++j) acc += upper_entries[detail::upper_index(D, i, j)] * x[j];
      z[i] = acc;
    }
    vec gw, gz, gx;
    for (int i = 0; i < D; ++i) gw[perm[i]] = gy[i];  // gw = P^T gy
    for (int j = 0; j < D; ++j) {                     // gz = L^T gw
      S acc = gw[j];
      for (int i = j + 1; i < D; ++i) acc += lower_entries[detail::lower_index(i, j)] * gw[i];
      gz[j] = acc;
    }
    for (int j = 0; j < D; ++j) {  // gx = Ut^T gz
      S acc = s(j) * gz[j];
      for (int i = 0; i < j; ++i) acc += upper_entries[detail::upper_index(D, i, j)] * gz[i];
      gx[j] = acc;
    }
    add_parameter_vjp(x, z, gy, gw, gz, gld, grad, S(1));
    return gx;
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gx, S gld, LUConvBijector& grad) const
    requires has_diag_derivatives
  {
    vec z, x;
    solve(y, z, x);
    vec gz, gw, gy;
    for (int j = 0; j < D; ++j) {  // Ut^T gz = gx; Ut^T is lower triangular
      S acc = gx[j];
      for (int i = 0; i < j; ++i) acc -= upper_entries[detail::upper_index(D, i, j)] * gz[i];
      gz[j] = acc / s(j);
    }
    for (int j = D - 1; j >= 0; --j) {  // L^T gw = gz; L^T is unit upper triangular
      S acc = gz[j];
      for (int i = j + 1; i < D; ++i) acc -= lower_entries[detail::lower_index(i, j)] * gw[i];
      gw[j] = acc;
    }
    for (int i = 0; i < D; ++i) gy[i] = gw[perm[i]];  // gy = P gw
    add_parameter_vjp(x, z, gy, gw, gz, gld, grad, S(-1));
    return gy;
  }

  // The same over a block (training.hpp's block path): V (D x n) the input of direction
  // Dir, G the output's cotangents on entry and the input's on return, gld every
  // sample's log-det cotangent. The per-sample steps as D x D triangular products and
  // solves over the block; the parameters' cotangents as two D x D products.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld,
                 LUConvBijector& grad) const
    requires has_diag_derivatives
  {
    using block = Eigen::Matrix<S, D, Eigen::Dynamic>;
    const Eigen::Index n = V.cols();
    const mat l = lower(), u = upper();
    block X(D, n), Z(D, n), GY(D, n), GW(D, n), GZ(D, n);
    if constexpr (Dir == direction::forward) {
      X = V;
      Z.noalias() = u * X;                                       // z = Ut x
      GY = G;
      for (int i = 0; i < D; ++i) GW.row(perm[i]) = GY.row(i);  // gw = P^T gy
      GZ.noalias() = l.transpose() * GW;                         // gz = L^T gw
      G.noalias() = u.transpose() * GZ;                          // gx = Ut^T gz
    } else {
      for (int i = 0; i < D; ++i) Z.row(perm[i]) = V.row(i).array() - bias[i];    // P^T (y - b)
      l.template triangularView<Eigen::UnitLower>().solveInPlace(Z);             // L z = P^T (y - b)
      X = u.template triangularView<Eigen::Upper>().solve(Z);                    // Ut x = z
      GZ = u.transpose().template triangularView<Eigen::Lower>().solve(G);       // Ut^T gz = gx
      GW = l.transpose().template triangularView<Eigen::UnitUpper>().solve(GZ);  // L^T gw = gz
      for (int i = 0; i < D; ++i) GY.row(i) = GW.row(perm[i]);                    // gy = P gw
      G = GY;
    }
    const S sign = Dir == direction::forward ? S(1) : S(-1);
    const mat gwz = GW * Z.transpose(), gzx = GZ * X.transpose();
    for (int i = 0; i < D; ++i) {
      for (int j = 0; j < i; ++j) grad.lower_entries[detail::lower_index(i, j)] += sign * gwz(i, j);
      for (int j = i + 1; j < D; ++j) grad.upper_entries[detail::upper_index(D, i, j)] += sign * gzx(i, j);
      grad.diag[i] += sign * (gzx(i, i) * Diag::dvalue(diag[i], signs[i]) + S(n) * gld * Diag::dlog_abs(diag[i], signs[i]));
      grad.bias[i] += sign * GY.row(i).sum();
    }
  }

  FLOWTMPL_HOST_DEVICE S constant_log_det() const {
    S acc(0);
    for (int i = 0; i < D; ++i) acc += Diag::log_abs(diag[i], signs[i]);
    return acc;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec&) const { return constant_log_det(); }

  mat lower() const {
    mat l = mat::Identity();
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < i; ++j) l(i, j) = lower_entries[detail::lower_index(i, j)];
    return l;
  }
  mat upper() const {
    mat u = mat::Zero();
    for (int i = 0; i < D; ++i) {
      u(i, i) = s(i);
      for (int j = i + 1; j < D; ++j) u(i, j) = upper_entries[detail::upper_index(D, i, j)];
    }
    return u;
  }
  mat permutation_matrix() const {
    mat p = mat::Zero();
    for (int i = 0; i < D; ++i) p(i, perm[i]) = S(1);
    return p;
  }
  mat weight() const { return permutation_matrix() * (lower() * upper()); }
  mat jacobian(const vec&) const { return weight(); }

  detail::prepared_linear<D, S> prepare() const {
    detail::prepared_linear<D, S> p;
    const mat l = lower(), u = upper(), pm = permutation_matrix();
    p.w = pm * (l * u);
    // W^-1 = U^-1 L^-1 P^T by substitution, column by column (written out rather than
    // Eigen's triangular solve, which nvcc reports as host code inside device code)
    mat x = pm.transpose();
    for (int c = 0; c < D; ++c) {
      for (int i = 1; i < D; ++i)
        for (int k = 0; k < i; ++k) x(i, c) -= l(i, k) * x(k, c);
      for (int i = D - 1; i >= 0; --i) {
        for (int k = i + 1; k < D; ++k) x(i, c) -= u(i, k) * x(k, c);
        x(i, c) /= u(i, i);
      }
    }
    p.w_inv = x;
    p.bias = Eigen::Map<const vec>(bias.data());
    p.log_det_value = constant_log_det();
    return p;
  }

  const char* validate() const {
    for (int i = 0; i < D; ++i) {
      const S v = s(i);
      if (v == S(0)) return "a zero on the diagonal of U: the matrix is singular";
      if (!std::isfinite(v)) return "a non-finite value on the diagonal of U";
    }
    return nullptr;
  }

 private:
  // Adds sign times the forward's parameter cotangents at x (z = Ut x, gw = P^T gy,
  // gz = L^T gw) to grad.
  FLOWTMPL_HOST_DEVICE void add_parameter_vjp(const vec& x, const vec& z, const vec& gy, const vec& gw, const vec& gz,
                                              S gld, LUConvBijector& grad, S sign) const {
    for (int i = 0; i < D; ++i) {
      for (int j = 0; j < i; ++j) grad.lower_entries[detail::lower_index(i, j)] += sign * (gw[i] * z[j]);
      for (int j = i + 1; j < D; ++j) grad.upper_entries[detail::upper_index(D, i, j)] += sign * (gz[i] * x[j]);
      grad.diag[i] += sign * (gz[i] * x[i] * Diag::dvalue(diag[i], signs[i]) + gld * Diag::dlog_abs(diag[i], signs[i]));
      grad.bias[i] += sign * gy[i];
    }
  }

  std::array<int, D> perm;  // a permutation of 0..D-1, always
  std::array<S, D> signs;   // +-1; used by lu_diag::exp only
};

// On an image<C, H, W> (shapes.hpp), LUConv is the invertible 1x1 convolution:
// PerPixelBijector<LUConvBijector<Diag, C, S>, H W> (bijectors/per_pixel.hpp).
template <class Diag>
struct LUConvT : bijector_spec {
  template <int D, class S>
  using bind = LUConvBijector<Diag, D, S>;
  static constexpr bool shape_aware = true;
  static constexpr bool needs_shape = false;
  template <class Shape, class S, int Position>
  static consteval auto bind_shape() {
    return detail::bind_per_channel<LUConvT, Shape, S, Position>();
  }
  template <class Shape>
  using output_shape = Shape;
};

struct LUConv : LUConvT<lu_diag::exp> {};

}  // namespace flowtmpl
