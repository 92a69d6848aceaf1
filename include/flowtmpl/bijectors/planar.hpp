// flowtmpl/bijectors/planar.hpp: Planar, the planar flow of Rezende & Mohamed (2015).
// Forward is the sampling direction:
//
//   f(z)  = z + u_hat tanh(w^T z + b)
//   u_hat = u + (m(w^T u) - w^T u) w / |w|^2,   m(a) = -1 + softplus(a)
//
// so w^T u_hat = m(w^T u) > -1 for every u and w, and the map is invertible for every
// value of the raw parameters. Parameters: u[D], w[D], b[1]. m(a) - a is evaluated as
// softplus(-a) - 1 (no cancellation for large a); w^T u_hat is taken to be
// softplus(w^T u) - 1 (m below), and u_hat gets one correction along w so that its own
// w^T u_hat equals m to rounding (where |w^T u| >> 1 the formula's sum cancels).
//
// w = 0: the correction is undefined (it grows like 1/|w| as w -> 0). At w = 0 the layer
// uses u_hat = u, so f(z) = z + u tanh(b), a translation with log-det 0. Every w whose
// components are all below the smallest normal number (2.2e-308 in double, 1.2e-38 in
// float), zero included, counts as w = 0; the correction is finite for every other w.
// Default parameters: u = w = 0, b = 0, the identity. (u = 0 alone is not the identity
// when w != 0: then u_hat = (log 2 - 1) w / |w|^2.)
//
// Domain: R^D both ways. Structure: dense, J = I + u_hat tanh'(w^T z + b) w^T
// (jacobian(x) provided). Log-det, input-dependent:
//
//   log(1 + m tanh'(tau)),   tau = w^T z + b,   tanh' = 1 - tanh^2
//
// evaluated as log1p(m tanh') for m >= 0 and as log(tanh^2 + softplus(w^T u) tanh') for
// -1 < m < 0 (the same number, a sum of non-negative terms: no cancellation when m is
// close to -1, where 1 + m tanh' would lose every digit), and in log space where a
// product or the sum would overflow or underflow. Finite for every finite input.
//
// Inverse. y = z + u_hat t with t = tanh(alpha + b), alpha = w^T z, so alpha solves
//   g(alpha) = alpha + m tanh(alpha + b) = w^T y,   g' = 1 + m tanh' > 0,
// and z = y - u_hat tanh(alpha + b). The root lies in [w^T y - |m|, w^T y + |m|]. It is
// found by Newton's method safeguarded by that bracket: the bracket shrinks with the
// sign of each residual; a Newton step that leaves it or does not halve the step before
// last is replaced by a bisection step, which halves the count of floating-point
// numbers in the bracket (about 64 of them reach two adjacent numbers in double, 32 in
// float); at most 256 iterations. It stops when the residual
// r = (alpha - w^T y) + m tanh(alpha + b) is within 2 eps |alpha| g' plus its own
// rounding noise eps (|alpha - w^T y| + 3 |m|), after one more Newton step kept inside
// the bracket. Accuracy: alpha is then within a few ulps of the root plus that noise
// divided by g', which is the conditioning of the problem (large only close to the
// hyperplane w^T z + b = 0 when m is close to -1: there z cannot be recovered from y to
// better than eps / g' by any method, though forward(inverse(y)) is still y to rounding).
// Measured (D = 8): 2-5 iterations for |m| up to about 10, up to 17 for m = 1e4, up to
// 25 next to the singular hyperplane with m = -1 + 2e-9. The tests check
// inverse(forward(z)) against z within 1e-12 max(1, |z|) in double, |z| up to 1e6,
// wherever |J^-1| <= 10; the solve against a long double bisection within
// 4 eps (|alpha| + noise / g'); forward(inverse(y)) against y.
//
// Never NaN for finite inputs and finite parameters. w^T z (and w^T u, w^T y) is
// recomputed with w scaled to components below 1, summed in order, where the plain
// product is not finite, so a partial-sum overflow gives the right value, or +-inf
// (then t = +-1) where the value itself is beyond the largest number. If w^T u or a
// component of u_hat is beyond the largest number it is clamped to it (validate() says
// so; the map then stays NaN-free but is not the formula's). A NaN in z gives NaN in
// every output (through w^T z) and in the log-det; with w = 0 it stays in its component.
//
// Cost per sample: D multiply-adds for w^T z, one exp or expm1, D multiply-adds for the
// output, one log1p or log for the log-det; the inverse, one exp or expm1 and a division
// per iteration. The unprepared layer forms u_hat and its scalars on every call (O(D)
// and five transcendental functions); prepare() forms them once.
//
// Gradients (flowtmpl/differentiable.hpp), in the raw parameters. With t = tanh(tau),
// t' = 1 - t^2, g' = 1 + m t' and rho = t' / g':
//   d ld/dtau = -2 m t rho,   d ld/dm = rho
//   forward:  gz = gy + c w,  c = t' (gy . u_hat) + gld d ld/dtau;  d/db = c;
//             d/dw += c z;  and through u_hat (cotangent gy t) and m (cotangent gld rho)
//             to u and w: with a = w^T u, k(a) = softplus(-a) - 1, u_hat = u + k w / |w|^2,
//             m = softplus(a) - 1, k' = -sigmoid(-a), m' = sigmoid(a).
//   inverse:  implicit, never through the root-find: z = f^-1(y), ild(y) = -ld(z), so
//             gy = J^-T v with v = gz - gld d ld/dz, and J^-T = I - rho w u_hat^T
//             (Sherman-Morrison on J^T = I + t' w u_hat^T, 1 + t' w^T u_hat = g'); the
//             parameters get minus the forward's products at z for the cotangents (gy, gld).
// The terms in 1 / |w|^2 are formed from w scaled to components below 1 and rescaled
// once; every product that would overflow is clamped to the largest number, so finite
// inputs and parameters give finite gradients. Where w counts as 0, u_hat = u and m = 0
// are held fixed: w gets only its part through tau, c z, and gz = gy (the map itself
// jumps at w = 0, where u_hat's correction grows like 1 / |w|).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <boost/hana/define_struct.hpp>
#include "../detail/eigen.hpp"

#include "../core.hpp"
#include "../detail/math.hpp"
#include "../detail/prepared_forwarding.hpp"

namespace flowtmpl {

namespace detail {

// A point strictly inside [lo, hi] (or lo / hi themselves when they are adjacent
// numbers): the arithmetic midpoint when lo and hi have one sign and are within a factor
// 2, else the midpoint in the ordering of the floating-point numbers, so that each step
// about halves the count of numbers in the bracket (about 64 steps reach two adjacent
// numbers in double, 32 in float, from any bracket).
template <class S>
FLOWTMPL_HOST_DEVICE S planar_bisect(S lo, S hi) {
  if ((lo > S(0) && hi <= S(2) * lo) || (hi < S(0) && lo >= S(2) * hi)) return lo + (hi - lo) / S(2);
  using I = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  using U = std::make_unsigned_t<I>;
  constexpr U sign = U(1) << (8 * sizeof(S) - 1);
  auto key = [](S x) -> I {
    const U bits = std::bit_cast<U>(x);
    return (bits & sign) ? -I(bits & ~sign) : I(bits);
  };
  auto from_key = [](I k) -> S { return k < 0 ? std::bit_cast<S>(U(U(-k) | sign)) : std::bit_cast<S>(U(k)); };
  const I kl = key(lo), kh = key(hi);
  return from_key(I(U(U(kl) + (U(kh) - U(kl)) / 2)));
}

// tanh(tau), tanh'(tau) = 1 - tanh^2 = 4e / (1 + e)^2 and e = exp(-2|tau|), from one
// exp (expm1 below |tau| = 1, where 1 - e would cancel): each with a small relative error.
template <class S>
struct planar_tanh_t {
  S t, slope, e;
};
template <class S>
FLOWTMPL_HOST_DEVICE planar_tanh_t<S> planar_tanh(S tau) {
  using std::abs, std::exp, std::expm1, std::copysign;
  const S a = abs(tau);
  S e, ta;
  if (a < S(1)) {
    const S em = expm1(S(-2) * a);
    e = S(1) + em;
    ta = -em / (S(2) + em);
  } else {
    e = exp(S(-2) * a);  // NaN stays NaN; +-inf gives 0
    ta = (S(1) - e) / (S(1) + e);
  }
  return {copysign(ta, tau), S(4) * e / ((S(1) + e) * (S(1) + e)), e};
}

// The planar layer after prepare(): u_hat, w^T u_hat and the numbers the log-det and the inverse
// need, computed once.
template <int D, class S>
struct prepared_planar : dense_layer_traits<D, S> {
  static constexpr const char* name = "Planar (prepared)";
  using typename dense_layer_traits<D, S>::vec;
  using typename dense_layer_traits<D, S>::mat;
  using lim = std::numeric_limits<S>;

  vec uhat;                 // u_hat
  vec w;                    // w as given
  S b;                      // the bias
  S m;                      // w^T u_hat = softplus(w^T u) - 1 > -1; 0 when w counts as 0
  S sp;                     // 1 + m = softplus(w^T u), kept apart: exact where m is near -1
  S log_m;                  // log(m), -inf for m <= 0
  S log_sp;                 // log(sp), also where sp underflows (then w^T u)
  S wu;                     // w^T u as used (clamped); 0 when w counts as 0
  int w_exp;                // max_i |w_i| = f 2^w_exp with f in [1/2, 1)
  bool degenerate;          // w counts as 0: f(z) = z + u tanh(b)
  bool clamped;             // w^T u or u_hat was beyond the largest number (validate())

  // w^T v; again with w scaled to components below 1 and summed in order if the plain
  // product is not finite, so that no partial sum is inf - inf.
  FLOWTMPL_HOST_DEVICE S w_dot(const vec& v) const {
    if (degenerate) return S(0);
    const S s = w.dot(v);
    if (std::isfinite(s)) return s;
    S acc(0);
    for (int i = 0; i < D; ++i) acc += std::ldexp(w[i], -w_exp) * v[i];
    return std::ldexp(acc, w_exp);
  }

  // g'(alpha) = 1 + m tanh'(alpha + b), >= 0 (0 only where it underflows).
  FLOWTMPL_HOST_DEVICE S slope(const planar_tanh_t<S>& q) const {
    return m >= S(0) ? S(1) + m * q.slope : q.t * q.t + sp * q.slope;
  }

  // log g'(alpha) at tau = alpha + b, finite for every finite tau.
  FLOWTMPL_HOST_DEVICE S log_slope(S tau, const planar_tanh_t<S>& q) const {
    using std::abs, std::log, std::log1p;
    const S a = abs(tau);
    if (m >= S(0)) {
      if (m <= S(1e30) && a <= S(30)) return log1p(m * q.slope);
      // log(m tanh') = log m + log 4 - 2|tau| - 2 log1p(e); then softplus of it
      const S x = log_m + (S(1.3862943611198906188344642429164) - S(2) * a - S(2) * log1p(q.e));
      return softplus_scalar(x);
    }
    // 1 + m tanh' = tanh^2 + (1 + m) tanh'
    const S v = q.t * q.t + sp * q.slope;
    if (v >= S(1e-20)) return log(v);
    return log_add_exp(S(2) * log(abs(q.t)), log_sp + log(q.slope));
  }

  // The root of alpha + m tanh(alpha + b) = c (c finite).
  FLOWTMPL_HOST_DEVICE S solve(S c) const {
    using std::abs, std::tanh;
    if (m == S(0)) return c;
    const S eps = lim::epsilon();
    const S am = abs(m);
    S lo = c - am, hi = c + am;
    if (!(lo >= lim::lowest())) lo = lim::lowest();
    if (!(hi <= lim::max())) hi = lim::max();
    // start: tanh linearised at tau = 0, where tau (1 + m) = c + b, then one tanh
    S x = c - m * tanh((c + b) / sp);
    if (!(x >= lo && x <= hi)) x = planar_bisect(lo, hi);
    S dx_old = hi - lo, dx = dx_old;
    for (int it = 0; it < 256; ++it) {
      const planar_tanh_t<S> q = planar_tanh(x + b);
      const S r = (x - c) + m * q.t;
      if (r == S(0)) return x;
      if (r < S(0))
        lo = x;
      else
        hi = x;
      const S g = slope(q);
      // Converged: the Newton step is below 2 eps |x|, or r is within its own rounding
      // noise (of x - c, of m t and of tanh: |t| <= 1, |tau tanh'| < 1/2). Then one last
      // Newton step, kept inside the bracket.
      const S noise = eps * (abs(x - c) + S(3) * am);
      if (abs(r) <= S(2) * eps * abs(x) * g + noise) {
        const S xr = x - r / g;
        return xr >= lo && xr <= hi ? xr : x;
      }
      S xn = x - r / g;
      // Newton inside the bracket and at least halving the step before last; else bisect
      if (!(xn > lo && xn < hi && abs(S(2) * r) <= abs(dx_old * g))) {
        xn = planar_bisect(lo, hi);
        if (xn == lo || xn == hi) return xn;  // the bracket holds two adjacent numbers
      }
      dx_old = dx;
      dx = xn - x;
      x = xn;
    }
    return x;
  }

  FLOWTMPL_HOST_DEVICE vec forward(const vec& z) const { return z + uhat * planar_tanh(w_dot(z) + b).t; }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z) const {
    const S tau = w_dot(z) + b;
    return log_slope(tau, planar_tanh(tau));
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z) const {
    const S tau = w_dot(z) + b;
    const planar_tanh_t<S> q = planar_tanh(tau);
    return {z + uhat * q.t, log_slope(tau, q)};
  }

  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y) const {
    const S c = w_dot(y);
    if (std::isnan(c)) return {y - uhat * c, c};
    // w^T y beyond the largest number: so is alpha, and tanh(alpha + b) = +-1
    const S alpha = std::isinf(c) ? c : solve(c);
    const S tau = alpha + b;
    const planar_tanh_t<S> q = planar_tanh(tau);
    return {y - uhat * q.t, -log_slope(tau, q)};
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y) const { return inverse_and_log_det(y).value; }

  // I + u_hat (tanh'(w^T z + b) w)^T
  mat jacobian(const vec& z) const {
    mat j = mat::Identity();
    if (degenerate) return j;
    const planar_tanh_t<S> q = planar_tanh(w_dot(z) + b);
    j.noalias() += uhat * (q.slope * w).transpose();
    return j;
  }
};

}  // namespace detail

// forward, inverse, log_det, the fused forms and jacobian: prepare(), then the prepared
// layer's (detail::prepared_forwarding)
template <int D, class S>
struct PlanarBijector : detail::prepared_forwarding<PlanarBijector<D, S>, D, S> {
  static constexpr const char* name = "Planar";
  using typename detail::dense_layer_traits<D, S>::vec;

  BOOST_HANA_DEFINE_STRUCT(PlanarBijector, (std::array<S, D>, u), (std::array<S, D>, w), (std::array<S, 1>, b));
  // u = w = 0, b = 0: the identity.
  PlanarBijector() : u{}, w{}, b{} {}

  FLOWTMPL_HOST_DEVICE detail::prepared_planar<D, S> prepare() const {
    using std::abs, std::log, std::ldexp;
    using lim = std::numeric_limits<S>;
    detail::prepared_planar<D, S> p;
    p.w = Eigen::Map<const vec>(w.data());
    p.b = b[0];
    p.clamped = false;
    S wmax(0);
    for (int i = 0; i < D; ++i)
      if (!(abs(w[i]) <= wmax)) wmax = abs(w[i]);  // a NaN stays
    p.degenerate = wmax < lim::min();
    p.w_exp = 0;
    if (p.degenerate) {
      p.uhat = Eigen::Map<const vec>(u.data());
      p.m = S(0);
      p.sp = S(1);
      p.log_m = -lim::infinity();
      p.log_sp = S(0);
      p.wu = S(0);
      return p;
    }
    if (std::isfinite(wmax)) (void)std::frexp(wmax, &p.w_exp);
    vec ws;
    S n2(0), a_scaled(0);
    for (int i = 0; i < D; ++i) {
      ws[i] = ldexp(w[i], -p.w_exp);  // exact, |ws_i| < 1
      n2 += ws[i] * ws[i];            // in [1/4, D]
      a_scaled += ws[i] * u[i];
    }
    S a = p.w.dot(Eigen::Map<const vec>(u.data()));
    if (!std::isfinite(a)) a = ldexp(a_scaled, p.w_exp);
    if (std::isinf(a)) {
      a = a > S(0) ? lim::max() : lim::lowest();
      p.clamped = true;
    }
    p.wu = a;
    p.sp = detail::softplus_scalar(a);
    p.m = p.sp - S(1);
    p.log_m = p.m > S(0) ? log(p.m) : -lim::infinity();
    p.log_sp = p.sp >= lim::min() ? log(p.sp) : a;  // log softplus(a) = a + O(e^a)
    // (m(a) - a) w / |w|^2 = (softplus(-a) - 1) / n2 * ws * 2^-w_exp
    const S k = (detail::softplus_scalar(-a) - S(1)) / n2;
    for (int i = 0; i < D; ++i) p.uhat[i] = u[i] + ldexp(k * ws[i], -p.w_exp);
    // Where |w^T u| >> |w^T u_hat| the sum above cancels, and the w^T u_hat it gives is
    // off by about eps |u| |w|; the inverse, which takes w^T u_hat = m, would then not
    // invert the forward. One correction along w sets w^T u_hat = m to rounding:
    // u_hat += (m - w^T u_hat) w / |w|^2 = (m 2^-w_exp - ws^T u_hat) / n2 ws.
    const S target = ldexp(p.m, -p.w_exp);
    bool finite = std::isfinite(target);
    for (int i = 0; i < D; ++i) finite = finite && std::isfinite(p.uhat[i]);  // allFinite() is host-only in Eigen
    if (finite) {
      S dot(0);
      for (int i = 0; i < D; ++i) dot += ws[i] * p.uhat[i];
      const S delta = (target - dot) / n2;
      if (std::isfinite(delta)) p.uhat += delta * ws;
    }
    for (int i = 0; i < D; ++i) {
      if (std::isinf(p.uhat[i])) {
        p.uhat[i] = p.uhat[i] > S(0) ? lim::max() : lim::lowest();
        p.clamped = true;
      }
    }
    return p;
  }

  // u_hat and w^T u_hat (= softplus(w^T u) - 1 > -1; 0 when w counts as 0), as the layer uses them.
  vec uhat() const { return prepare().uhat; }
  S w_dot_uhat() const { return prepare().m; }

  // gradients (flowtmpl/differentiable.hpp); the formulas are in the header comment.
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const vec& gy, S gld, PlanarBijector& grad) const {
    const detail::prepared_planar<D, S> p = prepare();
    return add_vjp(p, z, detail::planar_tanh(p.w_dot(z) + p.b), gy, gld, grad, S(1));
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& y, const vec& gz, S gld, PlanarBijector& grad) const {
    using detail::clamp_finite;
    const detail::prepared_planar<D, S> p = prepare();
    // z = f^-1(y) as inverse_and_log_det finds it
    const S c = p.w_dot(y);
    const S alpha = std::isfinite(c) ? p.solve(c) : c;
    const detail::planar_tanh_t<S> q = detail::planar_tanh(alpha + p.b);
    const vec z = y - p.uhat * q.t;
    vec gy = gz;
    if (!p.degenerate) {
      // v = gz - gld d ld/dz,  gy = J^-T v = v - rho (u_hat . v) w
      const S rho = slope_ratio(p, q);
      const vec v = gz - clamp_finite(gld * ld_tau(p, q, rho)) * p.w;
      const S k = clamp_finite(rho * clamp_finite(p.uhat.dot(v)));
      for (int i = 0; i < D; ++i) gy[i] = clamp_finite(v[i] - clamp_finite(k * p.w[i]));
    }
    add_vjp(p, z, q, gy, gld, grad, S(-1));
    return gy;
  }

  const char* validate() const {
    for (int i = 0; i < D; ++i)
      if (!std::isfinite(u[i]) || !std::isfinite(w[i])) return "u and w must be finite";
    if (!std::isfinite(b[0])) return "b must be finite";
    if (prepare().clamped) return "w^T u or u_hat is beyond the largest finite number";
    return nullptr;
  }

 private:
  // rho = tanh' / g', in [0, 1] for m >= 0, at most 1 / softplus(w^T u) for m < 0.
  FLOWTMPL_HOST_DEVICE static S slope_ratio(const detail::prepared_planar<D, S>& p, const detail::planar_tanh_t<S>& q) {
    const S g = p.slope(q);
    if (g > S(0)) return detail::clamp_finite(q.slope / g);
    return q.slope > S(0) ? std::numeric_limits<S>::max() : S(0);
  }
  // d ld/dtau = m tanh'' / g' = -2 t (m rho)
  FLOWTMPL_HOST_DEVICE static S ld_tau(const detail::prepared_planar<D, S>& p, const detail::planar_tanh_t<S>& q,
                                       S rho) {
    return detail::clamp_finite(S(-2) * q.t * detail::clamp_finite(p.m * rho));
  }

  // Adds sign (gy^T df/dtheta + gld d ld/dtheta) at z to grad (q: tanh at tau = w^T z + b);
  // returns gy^T df/dz + gld d ld/dz.
  FLOWTMPL_HOST_DEVICE vec add_vjp(const detail::prepared_planar<D, S>& p, const vec& z,
                                   const detail::planar_tanh_t<S>& q, const vec& gy, S gld, PlanarBijector& grad,
                                   S sign) const {
    using detail::clamp_finite;
    using std::abs, std::exp, std::ldexp;
    const S gu = clamp_finite(gy.dot(p.uhat));
    if (p.degenerate) {
      // f(z) = z + u tanh(b), ld = 0; w only through tau
      const S c = clamp_finite(q.slope * gu);
      for (int i = 0; i < D; ++i) {
        grad.u[i] += sign * (gy[i] * q.t);
        grad.w[i] += sign * clamp_finite(c * z[i]);
      }
      grad.b[0] += sign * c;
      return gy;
    }
    const S rho = slope_ratio(p, q);
    // cotangent of tau: c = t' (gy . u_hat) + gld d ld/dtau
    const S c = clamp_finite(clamp_finite(q.slope * gu) + clamp_finite(gld * ld_tau(p, q, rho)));
    // m = softplus(a) - 1 gets gld rho; a = w^T u
    const S e = exp(-abs(p.wu));
    const S sig_pos = p.wu >= S(0) ? S(1) / (S(1) + e) : e / (S(1) + e);  // sigmoid(a) = m'(a)
    const S sig_neg = p.wu >= S(0) ? e / (S(1) + e) : S(1) / (S(1) + e);  // sigmoid(-a) = -k'(a)
    const S k = detail::softplus_scalar(-p.wu) - S(1);
    // u_hat = u + k w / |w|^2 gets gy t; with w = ws 2^w_exp (|ws_i| < 1), n2s = |ws|^2,
    // qs = (gy t) . ws: through a, -sigmoid(-a) (qs / n2s) 2^-w_exp; through w / |w|^2,
    // (k / n2s) (gy t - 2 (qs / n2s) ws) 2^(-2 w_exp)
    vec ws;
    for (int i = 0; i < D; ++i) ws[i] = ldexp(p.w[i], -p.w_exp);
    const S n2s = ws.squaredNorm();
    const vec gt = gy * q.t;
    const S qs = gt.dot(ws);
    const S ga_m = clamp_finite(clamp_finite(gld * rho) * sig_pos);  // d/da through m
    const S ga_us = -sig_neg * (qs / n2s);                            // d/da through u_hat, times 2^w_exp
    const S ga_u = clamp_finite(ldexp(ga_us, -p.w_exp));
    const S kn = k / n2s, two_qn = S(2) * (qs / n2s);
    for (int i = 0; i < D; ++i) {
      // a = w^T u: d/du_i = (d/da) w_i, d/dw_i = (d/da) u_i
      const S gu_i = clamp_finite(gt[i] + clamp_finite(ga_m * p.w[i]) + ga_us * ws[i]);
      const S gw_i = clamp_finite(clamp_finite(c * z[i]) +
                                  clamp_finite(ldexp(kn * (gt[i] - two_qn * ws[i]), -2 * p.w_exp)) +
                                  clamp_finite(ga_m * u[i]) + clamp_finite(ga_u * u[i]));
      grad.u[i] += sign * gu_i;
      grad.w[i] += sign * gw_i;
    }
    grad.b[0] += sign * c;
    vec gz;
    for (int i = 0; i < D; ++i) gz[i] = clamp_finite(gy[i] + clamp_finite(c * p.w[i]));
    return gz;
  }
};

struct Planar : bijector_spec {
  template <int D, class S>
  using bind = PlanarBijector<D, S>;
};

}  // namespace flowtmpl
