// flowtmpl/bijectors/radial.hpp: Radial, the radial flow of Rezende & Mohamed (2015).
// Forward is the sampling direction:
//
//   f(z)  = z + beta h(r) (z - z0),   r = |z - z0|,   h(r) = 1 / (alpha + r)
//   alpha = softplus(raw_alpha) > 0,  beta = -alpha + softplus(raw_beta) >= -alpha
//
// so the map is invertible for every value of the raw parameters (it contracts or
// expands space radially about z0). Parameters: z0[D], raw_alpha[1], raw_beta[1].
// With s = alpha + beta = softplus(raw_beta) > 0 the radial factor is
// rho(r) = 1 + beta h(r) = (s + r) / (alpha + r), and f(z) = z0 + rho(r) (z - z0): no
// cancellation when beta is close to -alpha. Default parameters: z0 = 0,
// raw_alpha = raw_beta = 0 (alpha = log 2, beta = 0), the identity.
//
// Domain: R^D both ways. Structure: dense, J = rho I + rho'(r) r e e^T with
// e = (z - z0) / r and rho' = -beta / (alpha + r)^2; J = rho(0) I = (s / alpha) I at
// z = z0 (jacobian(x) provided). Log-det, input-dependent:
//
//   (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r),   h' = -1 / (alpha + r)^2
//   = (D - 1) [log(s + r) - log(alpha + r)] + log(r (r + 2 alpha) + alpha s) - 2 log(alpha + r)
//
// where every sum has non-negative terms (no cancellation). It is evaluated as written
// when alpha and s lie in [1e-10, 1e10] and r <= 1e10 (three logs), and otherwise in log
// space wherever a sum or product would overflow or underflow; where softplus(x) itself
// underflows (x below about -745 in double, -103 in float) log softplus(x) is taken as
// x, so alpha = 0 or s = 0 in floating point still give a finite log-det. Finite for
// every finite input.
//
// Inverse, in closed form: r_y = |y - z0| = r rho(r), so r is the non-negative root of
//   r^2 + B r - alpha r_y = 0,   B = s - r_y
// (the other root is negative: their product is -alpha r_y), computed without
// cancellation as sqrt(B^2/4 + alpha r_y) - B/2 when B < 0 and as
// alpha r_y / (B/2 + sqrt(B^2/4 + alpha r_y)) when B >= 0 (the square root through
// hypot outside the ranges where B^2 and alpha r_y cannot overflow or underflow); then
// z = z0 + (y - z0) / rho(r). y = z0 gives z = z0 exactly, and z = z0 gives y = z0.
// Accuracy: r has a relative error of a few ulps plus the rounding of B (eps max(s, r_y))
// times |dr/dB| = r / sqrt(B^2 + 4 alpha r_y), the conditioning of the problem; z then
// has that relative error in its distance from z0, times 1 / rho. The tests check r
// against a long double bisection within 8 eps r (1 + max(s, r_y) / sqrt(B^2 + 4 alpha
// r_y)), and inverse(forward(z)) against z within 1e-12 max(1, |z|) in double for
// |z - z0| up to 1e6 wherever 1 / rho <= 10.
//
// Never NaN for finite inputs and finite parameters: |z - z0| is computed with the
// components scaled where the squared norm would overflow or underflow; where it is
// beyond the largest number the output is z itself (the limit of the map) and the
// log-det 0. A NaN in z gives NaN in every output (through r) and in the log-det.
//
// Cost per sample: a squared norm, a sqrt and a division, D multiply-adds; the log-det
// three logs; the inverse one or two sqrts more. The unprepared layer forms alpha, s and
// their logs on every call (about six transcendental functions); prepare() forms them
// once.
//
// Gradients (flowtmpl/differentiable.hpp), in the raw parameters. With d = z - z0,
// e = d / r, P = alpha + r, Q = s + r, A = r (r + 2 alpha) + alpha s (so 1 + beta h +
// beta h' r = A / P^2) and k = rho'(r) r = (alpha - s) r / P^2:
//   d ld/dr      = (alpha - s) / P [(D - 1) / Q + 2 alpha / A]
//   d ld/dalpha  = (2 r + s) / A - (D + 1) / P,   d ld/ds = (D - 1) / Q + alpha / A
//   forward:  gz = rho gy + (k (gy . e) + gld d ld/dr) e;  d/dz0 = gy - gz;
//             d/dalpha = -(gy . e) rho r / P + gld d ld/dalpha;
//             d/ds = (gy . e) r / P + gld d ld/ds;
//             raw_alpha and raw_beta times sigmoid(raw), the derivative of softplus.
//   inverse:  implicit, the same way as for any root (not through the closed form):
//             z = f^-1(y), ild(y) = -ld(z), gy = J^-1 v with v = gz - gld d ld/dr e, and
//             J^-1 = (1 / rho) (I - e e^T) + (P^2 / A) e e^T (J = rho I + k e e^T is
//             symmetric, rho + k = A / P^2), that is
//             gy = (P / Q) v + (e . v) (s - alpha) r P / (A Q) e;
//             the parameters get minus the forward's products at z for (gy, gld).
// At z = z0 (r = 0) J = (s / alpha) I and the log-det's kink in the direction e is
// left out (its one-sided slopes differ). The ratios r / P, alpha / P, s / Q,
// alpha (2 r + s) / A, alpha s / A are in [0, 1] and sigmoid / softplus of the raw
// parameters in (0, 1], and the derivatives in alpha and s are formed from them, so
// they stay finite where alpha, s or r under- or overflow; every other product that
// would overflow is clamped to the largest number. Beyond the largest radius the map is
// the identity, and so is its gradient.
#pragma once

#include <array>
#include <cmath>
#include <limits>

#include <boost/hana/define_struct.hpp>
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/math.hpp"
#include "../detail/prepared_forwarding.hpp"

namespace flowtmpl {

namespace detail {

// log(x + r) for x, r >= 0, given log_x = log(x) accurately even where x itself has
// underflowed to 0 or overflowed.
template <class S>
FLOWTMPL_HOST_DEVICE S radial_log_sum(S x, S log_x, S r) {
  using std::log;
  using lim = std::numeric_limits<S>;
  const S s = x + r;
  if (s >= lim::min() && s <= lim::max()) return log(s);
  if (std::isnan(s)) return s;
  if (r == S(0)) return log_x;
  return log_add_exp(log_x, log(r));
}

// sigmoid(x) / softplus(x) = d log softplus(x) / dx, in (0, 1]; 1 where softplus(x)
// is below the normal range.
template <class S>
FLOWTMPL_HOST_DEVICE S radial_dlog_softplus(S x) {
  using std::exp, std::log1p;
  if (x > S(0)) {
    const S e = exp(-x);
    return S(1) / ((S(1) + e) * (x + log1p(e)));
  }
  const S e = exp(x);
  if (!(e >= std::numeric_limits<S>::min())) return e == e ? S(1) : e;
  return e / ((S(1) + e) * log1p(e));
}

template <int D, class S>
struct prepared_radial : dense_layer_traits<D, S> {
  static constexpr const char* name = "Radial (prepared)";
  using typename dense_layer_traits<D, S>::vec;
  using typename dense_layer_traits<D, S>::mat;
  using lim = std::numeric_limits<S>;

  vec z0;
  S alpha;       // softplus(raw_alpha) (0 where it underflows; log_alpha stays exact)
  S s;           // alpha + beta = softplus(raw_beta)
  S log_alpha, log_s, log_2alpha, sqrt_alpha;
  bool moderate;  // alpha and s in [1e-10, 1e10]: the direct formulas hold for r <= 1e10

  // |d|, also where the squared norm would overflow or underflow.
  FLOWTMPL_HOST_DEVICE static S radius(const vec& d) {
    using std::abs, std::sqrt;
    const S n2 = d.squaredNorm();
    if (n2 >= lim::min() / lim::epsilon() && n2 <= lim::max()) return sqrt(n2);
    S dm(0);
    for (int i = 0; i < D; ++i)
      if (!(abs(d[i]) <= dm)) dm = abs(d[i]);  // a NaN stays
    if (dm == S(0) || !std::isfinite(dm)) return dm;
    S acc(0);
    for (int i = 0; i < D; ++i) acc += (d[i] / dm) * (d[i] / dm);
    return dm * sqrt(acc);
  }

  // rho(r) = (s + r) / (alpha + r), r > 0, at most the largest number (NaN stays).
  FLOWTMPL_HOST_DEVICE S rho(S r) const {
    const S v = (s + r <= lim::max() && alpha + r <= lim::max()) ? (s + r) / (alpha + r)
                                                                  : (s / r + S(1)) / (alpha / r + S(1));
    return v > lim::max() ? lim::max() : v;
  }

  // The log-det at radius r (finite r >= 0).
  FLOWTMPL_HOST_DEVICE S log_det_at(S r) const {
    using std::log;
    if (moderate && r <= S(1e10)) {
      const S lp = log(alpha + r);
      return S(D - 1) * (log(s + r) - lp) + (log(r * (r + S(2) * alpha) + alpha * s) - S(2) * lp);
    }
    const S lp = radial_log_sum(alpha, log_alpha, r);
    const S lq = radial_log_sum(s, log_s, r);
    const S a = r * (r + S(2) * alpha) + alpha * s;
    const S la = (a >= lim::min() && a <= lim::max())
                     ? log(a)
                     : log_add_exp(log(r) + radial_log_sum(S(2) * alpha, log_2alpha, r), log_alpha + log_s);
    return S(D - 1) * (lq - lp) + (la - S(2) * lp);
  }

  // The radius r >= 0 with r rho(r) = ry (ry > 0 finite).
  FLOWTMPL_HOST_DEVICE S solve_radius(S ry) const {
    using std::sqrt, std::hypot;
    const S bh = (s - ry) * S(0.5);  // B / 2
    const S q = sqrt_alpha * sqrt(ry);  // sqrt(alpha ry)
    const S hy = (moderate && ry <= S(1e10)) ? sqrt(bh * bh + alpha * ry) : hypot(bh, q);
    if (bh < S(0)) return hy - bh;
    if (q > S(0)) return q * (q / (bh + hy));
    return q == S(0) ? S(0) : q;  // alpha r_y underflowed: r = 0; or a NaN, which stays
  }

  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z) const {
    const vec d = z - z0;
    const S r = radius(d);
    if (r == S(0)) return {z, log_det_at(S(0))};
    if (r > lim::max()) return {z, S(0)};
    return {z0 + rho(r) * d, log_det_at(r)};
  }
  FLOWTMPL_HOST_DEVICE vec forward(const vec& z) const {
    const vec d = z - z0;
    const S r = radius(d);
    if (r == S(0) || r > lim::max()) return z;
    return z0 + rho(r) * d;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z) const {
    const S r = radius(vec(z - z0));
    return r > lim::max() ? S(0) : log_det_at(r);
  }

  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    const vec dy = y - z0;
    const S ry = radius(dy);
    if (ry == S(0)) return {y, -log_det_at(S(0))};
    if (ry > lim::max()) return {y, S(0)};
    const S r = solve_radius(ry);
    // 1 / rho(r), at most the largest number
    const S den = s + r;
    S k;
    if (alpha + r <= lim::max() && den <= lim::max())
      k = den > S(0) ? (alpha + r) / den : lim::max();
    else
      k = (alpha / r + S(1)) / (s / r + S(1));  // a NaN r lands here and stays
    if (k > lim::max()) k = lim::max();
    return {z0 + k * dy, -log_det_at(r)};
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return inverse_and_log_det(y).value; }

  mat jacobian(const vec& z) const {
    const vec d = z - z0;
    const S r = radius(d);
    mat j = mat::Zero();
    if (r == S(0)) {
      const S v = alpha > S(0) ? s / alpha : lim::max();
      j.diagonal().setConstant(v > lim::max() ? lim::max() : v);
      return j;
    }
    if (r > lim::max()) return mat::Identity();
    // rho'(r) r = -beta r / (alpha + r)^2, as a product of two bounded factors
    const S p = alpha + r;
    S k = (alpha - s) / p;
    if (!(std::abs(k) <= lim::max())) k = k > S(0) ? lim::max() : (k < S(0) ? lim::lowest() : k);
    k *= r / p;
    const vec e = d / r;
    j.diagonal().setConstant(rho(r));
    j.noalias() += k * e * e.transpose();
    return j;
  }
};

}  // namespace detail

// forward, inverse, log_det, the fused forms and jacobian: prepare(), then the prepared
// layer's (detail::prepared_forwarding)
template <int D, class S>
struct RadialBijector : detail::prepared_forwarding<RadialBijector<D, S>, D, S> {
  static constexpr const char* name = "Radial";
  using typename detail::dense_layer_traits<D, S>::vec;

  BOOST_HANA_DEFINE_STRUCT(RadialBijector, (std::array<S, D>, z0), (std::array<S, 1>, raw_alpha),
                           (std::array<S, 1>, raw_beta));
  // z0 = 0, alpha = log 2, beta = 0: the identity.
  RadialBijector() : z0{}, raw_alpha{}, raw_beta{} {}

  FLOWTMPL_HOST_DEVICE detail::prepared_radial<D, S> prepare() const {
    using std::log, std::sqrt, std::exp;
    using lim = std::numeric_limits<S>;
    detail::prepared_radial<D, S> p;
    p.z0 = Eigen::Map<const vec>(z0.data());
    p.alpha = detail::softplus_scalar(raw_alpha[0]);
    p.s = detail::softplus_scalar(raw_beta[0]);
    // log softplus(x) = x + O(e^x) where softplus(x) is below the normal range
    p.log_alpha = p.alpha >= lim::min() ? log(p.alpha) : raw_alpha[0];
    p.log_s = p.s >= lim::min() ? log(p.s) : raw_beta[0];
    p.log_2alpha = S(0.693147180559945309417232121458) + p.log_alpha;
    p.sqrt_alpha = p.alpha >= lim::min() ? sqrt(p.alpha) : exp(raw_alpha[0] / S(2));
    p.moderate = p.alpha >= S(1e-10) && p.alpha <= S(1e10) && p.s >= S(1e-10) && p.s <= S(1e10);
    return p;
  }

  // alpha = softplus(raw_alpha) and beta = softplus(raw_beta) - alpha, as the layer uses them.
  S alpha() const { return prepare().alpha; }
  S beta() const {
    const auto p = prepare();
    return p.s - p.alpha;
  }

  // gradients (flowtmpl/differentiable.hpp); the formulas are in the header comment.
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const vec& gy, S gld, RadialBijector& grad) const {
    const detail::prepared_radial<D, S> p = prepare();
    return add_vjp(p, vec(z - p.z0), gy, gld, grad, S(1));
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gz, S gld, RadialBijector& grad) const {
    using detail::clamp_finite;
    using lim = std::numeric_limits<S>;
    const detail::prepared_radial<D, S> p = prepare();
    const vec d = p.inverse(y) - p.z0;
    const S r = p.radius(d);
    vec gy = gz;
    if (r > lim::max()) return gy;  // the identity there
    if (r == S(0)) {
      // J = (s / alpha) I
      const S k = p.s > S(0) ? clamp_finite(p.alpha / p.s) : lim::max();
      for (int i = 0; i < D; ++i) gy[i] = clamp_finite(k * gz[i]);
    } else {
      const terms t = terms_at(p, r);
      const vec e = d / r;
      // v = gz - gld d ld/dr e;  gy = (P / Q) v + (e . v) (s - alpha) (r / Q) (P / A) e
      const S gl = clamp_finite(gld * t.ld_r);
      vec v;
      for (int i = 0; i < D; ++i) v[i] = clamp_finite(gz[i] - gl * e[i]);
      const S c = clamp_finite(clamp_finite(e.dot(v)) * t.inv_corr);
      for (int i = 0; i < D; ++i) gy[i] = clamp_finite(clamp_finite(t.inv_rho * v[i]) + c * e[i]);
    }
    add_vjp(p, d, gy, gld, grad, S(-1));
    return gy;
  }

  const char* validate() const {
    for (int i = 0; i < D; ++i)
      if (!std::isfinite(z0[i])) return "z0 must be finite";
    if (!std::isfinite(raw_alpha[0]) || !std::isfinite(raw_beta[0])) return "raw_alpha and raw_beta must be finite";
    return nullptr;
  }

 private:
  // The radius-dependent factors of the gradients at a finite r > 0.
  struct terms {
    S rho;       // rho(r)
    S k;         // rho'(r) r = (alpha - s) / P * r / P
    S ld_r;      // d ld/dr
    S fr, fa;    // r / P, alpha / P
    S fs;        // s / Q
    S ga, hs;    // alpha (2 r + s) / A, alpha s / A
    S inv_rho;   // 1 / rho = P / Q
    S inv_corr;  // 1 / (rho + k) - 1 / rho = (s - alpha) (r / Q) (P / A)
  };
  FLOWTMPL_HOST_DEVICE static terms terms_at(const detail::prepared_radial<D, S>& p, S r) {
    using detail::clamp_finite;
    const S alpha = p.alpha, s = p.s;
    const S pp = alpha + r, qq = s + r;  // P, Q; r <= max, so at most the largest number
    terms t;
    t.rho = p.rho(r);
    t.fr = r / pp;
    t.fa = alpha / pp;
    t.fs = s / qq;
    // A / P = r (1 + alpha / P) + s alpha / P >= r > 0
    const S ap = r * (S(1) + t.fa) + s * t.fa;
    const S a_p = clamp_finite(S(1) / ap);                                   // P / A
    t.ga = clamp_finite(t.fa * (S(2) * (r / ap) + clamp_finite(s / ap)));   // alpha / P (2 r + s) P / A
    t.hs = clamp_finite(t.fa * clamp_finite(s / ap));
    const S dp = clamp_finite((alpha - s) / pp);
    t.k = dp * t.fr;
    t.ld_r = clamp_finite(dp * clamp_finite(S(D - 1) / qq + S(2) * clamp_finite(t.fa * a_p)));
    t.inv_rho = clamp_finite(pp / qq);
    t.inv_corr = clamp_finite(clamp_finite((s - alpha) * a_p) * (r / qq));
    return t;
  }

  // Adds sign (gy^T df/dtheta + gld d ld/dtheta) at z = z0 + d to grad; returns
  // gy^T df/dz + gld d ld/dz.
  FLOWTMPL_HOST_DEVICE vec add_vjp(const detail::prepared_radial<D, S>& p, const vec& d, const vec& gy, S gld,
                                   RadialBijector& grad, S sign) const {
    using detail::clamp_finite;
    using lim = std::numeric_limits<S>;
    const S r = p.radius(d);
    if (r > lim::max()) return gy;  // f(z) = z, ld = 0: nothing depends on the parameters
    // d/draw = d/dx sigmoid(raw) = (x d/dx) sigmoid(raw) / softplus(raw), x = softplus(raw)
    const S ra = detail::radial_dlog_softplus(raw_alpha[0]), rb = detail::radial_dlog_softplus(raw_beta[0]);
    vec gz;
    S g_alpha, g_s;
    if (r == S(0)) {
      // J = (s / alpha) I; ld = D (log s - log alpha), y does not depend on alpha or s
      const S k = p.alpha > S(0) ? clamp_finite(p.s / p.alpha) : lim::max();
      for (int i = 0; i < D; ++i) gz[i] = clamp_finite(k * gy[i]);
      g_alpha = clamp_finite(-S(D) * gld * ra);
      g_s = clamp_finite(S(D) * gld * rb);
    } else {
      const terms t = terms_at(p, r);
      const vec e = d / r;
      const S ge = clamp_finite(gy.dot(e));  // gy . d / r
      const S c = clamp_finite(clamp_finite(t.k * ge) + clamp_finite(gld * t.ld_r));
      for (int i = 0; i < D; ++i) gz[i] = clamp_finite(clamp_finite(t.rho * gy[i]) + c * e[i]);
      // raw_alpha: -(gy . e) rho (r / P) sigmoid + gld (alpha d ld/dalpha) sigmoid / softplus,
      //   alpha d ld/dalpha = alpha (2 r + s) / A - (D + 1) alpha / P
      // raw_beta: (gy . e) (r / P) sigmoid + gld (s d ld/ds) sigmoid / softplus,
      //   s d ld/ds = (D - 1) s / Q + alpha s / A
      g_alpha = clamp_finite(clamp_finite(-ge * clamp_finite(t.rho * t.fr)) * (ra * p.alpha) +
                             clamp_finite(gld * (t.ga - S(D + 1) * t.fa)) * ra);
      g_s = clamp_finite((ge * t.fr) * (rb * p.s) + clamp_finite(gld * (S(D - 1) * t.fs + t.hs)) * rb);
    }
    grad.raw_alpha[0] += sign * g_alpha;
    grad.raw_beta[0] += sign * g_s;
    for (int i = 0; i < D; ++i) grad.z0[i] += sign * clamp_finite(gy[i] - gz[i]);
    return gz;
  }
};

struct Radial : bijector_spec {
  template <int D, class S>
  using bind = RadialBijector<D, S>;
};

}  // namespace flowtmpl
