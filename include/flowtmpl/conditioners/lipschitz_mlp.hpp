// flowtmpl/conditioners/lipschitz_mlp.hpp: LipschitzMLP<hidden...>, a fully connected
// network whose Lipschitz constant is below a coefficient c < 1 by spectral
// normalisation (Miyato et al. 2018; Behrmann et al. 2019; Chen et al. 2019), the
// network g of a residual layer x + g(x) (bijectors/residual.hpp).
//
//   LipschitzMLP<64, 64>                      act::lipswish between layers (Chen et al.)
//   LipschitzMLP<64, 64>::with<act::elu>      another 1-Lipschitz activation (elu, tanh,
//                                             lipswish; relu works too but makes g only
//                                             piecewise smooth)
//
// Bound with In inputs, C context inputs (0: none), Out outputs and the coefficient c:
//   h_0 = [x; c], h_l+1 = act(W~_l h_l + b_l), g = W~_L h_L + b_L
//   W~_l = W_l / max(1, sigma_l / c),   sigma_l = |W_l^T u_l| / |u_l|
// u_l (one value per output of layer l) is the power iteration's state: sigma_l is the
// estimate of W_l's largest singular value that the iteration has reached (it is never
// above the true one, and equal to it once u_l is W_l's leading left singular vector).
// With every |W~_l| <= c and 1-Lipschitz activations, Lip(g) <= c^layers <= c, to the
// iteration's convergence. Layer 0's norm includes the context columns, so g is
// c-Lipschitz in x for every context.
// update_spectral_norm(iterations) runs the power iteration on every layer:
//   v = W^T u / |W^T u|,  u = W v / |W v|
// (u kept as is where W^T u is 0). reset_parameters draws the weights as PyTorch's
// Linear and runs the iteration to convergence (relative change of sigma below 1e-12,
// at most max_power_iterations), so a fresh network is c-Lipschitz.
//
// Parameters in one flat array `values` (per layer: weight [out][in] row-major, then
// bias; names "l.weight", "l.bias") and the state `spectral` (per layer u_l, named
// "l.power_iteration_state": saved and loaded with the parameters, so a file gives back the same
// function). A default-constructed network has zero weights (g = 0) and u_l = 1.
// Cost per sample: the products of MLP, plus computing sigma_l (one product with W_l^T
// per layer) on every evaluation, or once for many with evaluate(x, c, scales()).
// The same network without the normalisation (every factor 1, no state) is
// DynamicsMLP (conditioners/dynamics_mlp.hpp), the dynamics of a continuous flow: the
// tangents (record), the reverse sweep with second derivatives (backward) and J^T w
// below serve both.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include "../detail/eigen.hpp"
#include <Eigen/Eigenvalues>

#include "../detail/math.hpp"
#include "../detail/members.hpp"
#include "../errors.hpp"
#include "activations.hpp"
#include "conditioner.hpp"

namespace flowtmpl {

namespace detail {

// How a tangent_mlp bounds its weights: spectral (LipschitzMLP: W / max(1, sigma / c),
// with the power iteration's state) or none (DynamicsMLP, the dynamics of a continuous
// flow: the weights as they are, no state).
enum class weight_normalisation { spectral, none };

template <int In, int Out, int C, class S, class Act, weight_normalisation Norm, double Coefficient, int... Hidden>
struct tangent_mlp : parameter_walkers<tangent_mlp<In, Out, C, S, Act, Norm, Coefficient, Hidden...>> {
  static constexpr bool normalised = Norm == weight_normalisation::spectral;
  static_assert(((Hidden > 0) && ...), "flowtmpl: LipschitzMLP / DynamicsMLP<hidden...>: every hidden width must be positive");
  static_assert(sizeof...(Hidden) >= 1, "flowtmpl: LipschitzMLP / DynamicsMLP<hidden...>: at least one hidden layer");
  static_assert(!normalised || (Coefficient > 0 && Coefficient < 1),
                "flowtmpl: the Lipschitz coefficient c of a residual layer must be in (0, 1)");
  using scalar_type = S;
  using activation_type = Act;
  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  static constexpr int context = C;
  static constexpr double coefficient = Coefficient;
  static constexpr int layers = int(sizeof...(Hidden)) + 1;
  static constexpr std::array<int, layers + 1> widths{In + C, Hidden..., Out};
  static constexpr std::array<std::size_t, layers + 1> offsets = [] {
    std::array<std::size_t, layers + 1> o{};
    for (int l = 0; l < layers; ++l) o[l + 1] = o[l] + std::size_t(widths[l + 1]) * (widths[l] + 1);
    return o;
  }();
  // layer l's u starts at u_offsets[l] in `spectral` (none without normalisation)
  static constexpr std::array<std::size_t, layers + 1> u_offsets = [] {
    std::array<std::size_t, layers + 1> o{};
    for (int l = 0; l < layers; ++l) o[l + 1] = o[l] + (normalised ? std::size_t(widths[l + 1]) : 0);
    return o;
  }();
  static constexpr std::size_t parameter_count = offsets[layers] + u_offsets[layers];
  static constexpr int max_power_iterations = 1000;
  static constexpr const char* name = normalised ? "LipschitzMLP" : "DynamicsMLP";

  std::array<S, offsets[layers]> values{};
  std::array<S, u_offsets[layers]> spectral = [] {
    std::array<S, u_offsets[layers]> u{};
    for (auto& v : u) v = S(1);
    return u;
  }();

  template <int L>
  using weight_t = Eigen::Matrix<S, widths[L + 1], widths[L], row_major_options(widths[L])>;
  template <int L>
  using col_t = Eigen::Matrix<S, widths[L + 1], 1>;
  template <int L>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const weight_t<L>> weight() const {
    return Eigen::Map<const weight_t<L>>(values.data() + offsets[L]);
  }
  template <int L>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const col_t<L>> bias() const {
    return Eigen::Map<const col_t<L>>(values.data() + offsets[L] + std::size_t(widths[L + 1]) * widths[L]);
  }
  template <int L>
  FLOWTMPL_HOST_DEVICE Eigen::Map<const col_t<L>> u() const {
    return Eigen::Map<const col_t<L>>(spectral.data() + u_offsets[L]);
  }

  // sigma_l = |W^T u| / |u| (0 where u is 0), and the factor 1 / max(1, sigma_l / c)
  template <int L>
  FLOWTMPL_HOST_DEVICE S sigma() const {
    const S un = u<L>().norm();
    if (!(un > S(0))) return S(0);
    return (weight<L>().transpose() * u<L>()).norm() / un;
  }
  template <int L>
  FLOWTMPL_HOST_DEVICE S scale() const {
    if constexpr (!normalised) return S(1);
    const S r = sigma<L>() / S(Coefficient);
    return r > S(1) ? S(1) / r : S(1);
  }

  using in_vec = Eigen::Matrix<S, In, 1>;
  using out_vec = Eigen::Matrix<S, Out, 1>;
  using jacobian_t = Eigen::Matrix<S, Out, In>;

  // every layer's factor 1 / max(1, sigma_l / c): a solve that evaluates g many times
  // with the same weights forms them once
  using scale_array = std::array<S, layers>;
  FLOWTMPL_HOST_DEVICE scale_array scales() const {
    scale_array s{};
    [&]<int... L>(std::integer_sequence<int, L...>) { ((s[std::size_t(L)] = scale<L>()), ...); }(
        std::make_integer_sequence<int, layers>{});
    return s;
  }

  // g(x, c) (ctx: C values, ignored when C = 0); with J not null also dg/dx (Out x In).
  // sc: the factors of scales().
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx, jacobian_t* J = nullptr) const { return evaluate(x, ctx, scales(), J); }
  FLOWTMPL_HOST_DEVICE out_vec evaluate(const in_vec& x, const S* ctx, const scale_array& sc,
                                        jacobian_t* J = nullptr) const {
    Eigen::Matrix<S, In + C, 1> h0;
    h0.template topRows<In>() = x;
    if constexpr (C > 0) h0.template bottomRows<C>() = Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
    col_t<0> a = sc[0] * (weight<0>() * h0);
    a += bias<0>();
    if (J) {
      Eigen::Matrix<S, widths[1], In> M = sc[0] * weight<0>().template leftCols<In>();
      return from_layer<1>(a, sc, &M, J);
    }
    return from_layer<1>(a, sc, static_cast<Eigen::Matrix<S, widths[1], In>*>(nullptr), J);
  }
  // a: layer L - 1's pre-activations; M: their derivative in x (or nullptr)
  template <int L, class A, class M>
  FLOWTMPL_HOST_DEVICE out_vec from_layer(const A& a, const scale_array& sc, M* dM, jacobian_t* J) const {
    const Eigen::Matrix<S, widths[L], 1> h = Act::apply(a.array()).matrix();
    Eigen::Matrix<S, widths[L + 1], 1> next = sc[std::size_t(L)] * (weight<L>() * h);
    next += bias<L>();
    Eigen::Matrix<S, widths[L + 1], In> nextM;
    if (dM) {
      const Eigen::Matrix<S, widths[L], In> dh = Act::derivative(a.array()).matrix().asDiagonal() * (*dM);
      nextM.noalias() = sc[std::size_t(L)] * (weight<L>() * dh);
    }
    if constexpr (L == layers - 1) {
      if (J) *J = nextM;
      return next;
    } else {
      return from_layer<L + 1>(next, sc, dM ? &nextM : static_cast<decltype(&nextM)>(nullptr), J);
    }
  }

  // ---- derivatives, for the residual layer's log-det and its gradients -------------
  // record<K>(x, ctx, sc, T, tr): g(x, c), keeping in tr every layer's pre-activations
  // a_l and their derivative P_l along the K columns of T (In x K directions of x):
  //   P_0 = s_0 W_0[:, x] T,   P_l = s_l W_l diag(act'(a_l-1)) P_l-1
  // so the last one is J_g T (T = I: the Jacobian; T = v: the product J_g v).
  template <class Seq, int K>
  struct trace_of;
  template <int... L, int K>
  struct trace_of<std::integer_sequence<int, L...>, K> {
    std::tuple<col_t<L>...> a;
    std::tuple<col_t<L>...> slope;  // act'(a_l), l < layers - 1 (the last is not used)
    std::tuple<Eigen::Matrix<S, widths[L + 1], K>...> P;
  };
  template <int K>
  using trace = trace_of<std::make_integer_sequence<int, layers>, K>;
  template <int K>
  using seed_t = Eigen::Matrix<S, In, K>;

  template <int K>
  FLOWTMPL_HOST_DEVICE out_vec record(const in_vec& x, const S* ctx, const scale_array& sc, const seed_t<K>& T,
                                      trace<K>& tr) const {
    Eigen::Matrix<S, In + C, 1> h0;
    h0.template topRows<In>() = x;
    if constexpr (C > 0) h0.template bottomRows<C>() = Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
    std::get<0>(tr.a).noalias() = sc[0] * (weight<0>() * h0);
    std::get<0>(tr.a) += bias<0>();
    std::get<0>(tr.P).noalias() = sc[0] * weight<0>().template leftCols<In>().lazyProduct(T);
    [&]<int... L>(std::integer_sequence<int, L...>) { (record_layer<L + 1>(sc, tr), ...); }(
        std::make_integer_sequence<int, layers - 1>{});
    return std::get<layers - 1>(tr.a);
  }
  template <int L, class Tr>
  FLOWTMPL_HOST_DEVICE void record_layer(const scale_array& sc, Tr& tr) const {
    const auto& a = std::get<L - 1>(tr.a);
    const auto& d = std::get<L - 1>(tr.slope) = Act::derivative(a.array()).matrix();
    // [h, diag(d) P] through W_l in one product: the weights read once for the value
    // and its K tangents
    constexpr int K = std::tuple_element_t<L, decltype(tr.P)>::ColsAtCompileTime;
    Eigen::Matrix<S, widths[L], K + 1> M;
    M.col(0) = Act::apply(a.array()).matrix();
    M.template rightCols<K>() = d.asDiagonal() * std::get<L - 1>(tr.P);
    Eigen::Matrix<S, widths[L + 1], K + 1> R;
    R.noalias() = weight<L>().lazyProduct(M);  // no packing: a few columns
    std::get<L>(tr.a) = sc[std::size_t(L)] * R.col(0) + bias<L>();
    std::get<L>(tr.P) = sc[std::size_t(L)] * R.template rightCols<K>();
  }
  template <int K>
  FLOWTMPL_HOST_DEVICE static const Eigen::Matrix<S, Out, K>& tangent(const trace<K>& tr) {
    return std::get<layers - 1>(tr.P);
  }

  // The reverse sweep over a trace: for the cotangents abar of g and Pbar of J_g T
  // (nullptr: none), adds to grad's values the parameters' cotangents (through the
  // spectral factors s_l = c / sigma_l too, where they bind; u gets none: it is state),
  // adds the context's into gctx (when not null), and returns x's. Pbar reaches x and
  // the parameters through the second derivatives of the activations.
  template <int K>
  FLOWTMPL_HOST_DEVICE in_vec backward(const trace<K>& tr, const in_vec& x, const S* ctx, const scale_array& sc,
                                       const seed_t<K>& T, const out_vec& abar, const Eigen::Matrix<S, Out, K>* Pbar,
                                       tangent_mlp& grad, S* gctx) const {
    Eigen::Matrix<S, In + C, 1> h0;
    h0.template topRows<In>() = x;
    if constexpr (C > 0) h0.template bottomRows<C>() = Eigen::Map<const Eigen::Matrix<S, C, 1>>(ctx);
    return back_layer<layers - 1, K>(tr, h0, sc, T, abar, Pbar, grad, gctx);
  }
  template <int L, int K>
  FLOWTMPL_HOST_DEVICE in_vec back_layer(const trace<K>& tr, const Eigen::Matrix<S, In + C, 1>& h0,
                                         const scale_array& sc, const seed_t<K>& T, const col_t<L>& abar,
                                         const Eigen::Matrix<S, widths[L + 1], K>* Pbar, tangent_mlp& grad,
                                         S* gctx) const {
    constexpr int n_in = widths[L];
    const S s = sc[std::size_t(L)];
    Eigen::Matrix<S, n_in, 1> h, d;
    if constexpr (L == 0) {
      h = h0;
    } else {
      h = Act::apply(std::get<L - 1>(tr.a).array()).matrix();
      d = std::get<L - 1>(tr.slope);
    }
    // Q = abar h^T + Pbar H^T: the cotangent of s_l W_l
    weight_t<L> Q = abar * h.transpose();
    if (Pbar) {
      if constexpr (L == 0) {
        Q.template leftCols<In>().noalias() += Pbar->lazyProduct(T.transpose());
      } else {
        const Eigen::Matrix<S, n_in, K> dP = d.asDiagonal() * std::get<L - 1>(tr.P);
        Q.noalias() += Pbar->lazyProduct(dP.transpose());  // K outer products: no packing
      }
    }
    Eigen::Map<weight_t<L>> gW(grad.values.data() + offsets[L]);
    Eigen::Map<col_t<L>> gb(grad.values.data() + offsets[L] + std::size_t(widths[L + 1]) * n_in);
    gW += s * Q;
    gb += abar;
    add_spectral_cotangent<L>(Q, gW);
    if constexpr (L == 0) {
      const Eigen::Matrix<S, In + C, 1> hbar = s * (weight<0>().transpose() * abar);
      if constexpr (C > 0)
        if (gctx)
          for (int c = 0; c < C; ++c) gctx[c] += hbar[In + c];
      (void)gctx;
      return hbar.template topRows<In>();
    } else {
      const Eigen::Matrix<S, n_in, 1> hbar = s * (weight<L>().transpose() * abar);
      col_t<L - 1> abar_prev = d.cwiseProduct(hbar);
      if (!Pbar) return back_layer<L - 1, K>(tr, h0, sc, T, abar_prev, nullptr, grad, gctx);
      const Eigen::Matrix<S, n_in, K> Hbar = s * weight<L>().transpose().lazyProduct(*Pbar);
      const Eigen::Matrix<S, n_in, 1> d2 = Act::second_derivative(std::get<L - 1>(tr.a).array()).matrix();
      abar_prev += d2.cwiseProduct(Hbar.cwiseProduct(std::get<L - 1>(tr.P)).rowwise().sum());
      const Eigen::Matrix<S, n_in, K> Pbar_prev = d.asDiagonal() * Hbar;
      return back_layer<L - 1, K>(tr, h0, sc, T, abar_prev, &Pbar_prev, grad, gctx);
    }
  }
  // Where s_l = c / sigma_l binds: sigma_l = |W^T u| / |u|, d sigma / dW = u (W^T u)^T /
  // (|u| |W^T u|), d s / d sigma = -s / sigma, and the cotangent of s is <W, Q>.
  template <int L>
  FLOWTMPL_HOST_DEVICE void add_spectral_cotangent(const weight_t<L>& Q, Eigen::Map<weight_t<L>>& gW) const {
    if constexpr (!normalised) return;
    const S sig = sigma<L>();
    if (!(sig / S(Coefficient) > S(1))) return;
    const S sbar = weight<L>().cwiseProduct(Q).sum();
    const Eigen::Matrix<S, widths[L], 1> v = weight<L>().transpose() * u<L>();
    const S k = -sbar * (S(Coefficient) / sig) / (sig * u<L>().norm() * v.norm());
    gW.noalias() += k * (u<L>() * v.transpose());
  }

  // With the activation slopes of a trace: J_g^T w, without the parameters (the chain
  // of the stochastic log-det's powers; the slopes formed once, in record)
  template <int K>
  FLOWTMPL_HOST_DEVICE in_vec jacobian_transpose_times(const trace<K>& tr, const scale_array& sc, const out_vec& w) const {
    return jt_layer<layers - 1>(tr, sc, w);
  }
  template <int L, class Tr>
  FLOWTMPL_HOST_DEVICE in_vec jt_layer(const Tr& tr, const scale_array& sc, const col_t<L>& w) const {
    if constexpr (L == 0) {
      return sc[0] * (weight<0>().template leftCols<In>().transpose() * w);
    } else {
      const Eigen::Matrix<S, widths[L], 1> hbar = sc[std::size_t(L)] * (weight<L>().transpose() * w);
      const col_t<L - 1> prev = std::get<L - 1>(tr.slope).cwiseProduct(hbar);
      return jt_layer<L - 1>(tr, sc, prev);
    }
  }

  // ---- a block of samples (host) ----------------------------------------------------
  // g for the n columns of X (In x n; Ctx: their contexts, C x n, or nullptr), the layers
  // as matrix-matrix products; with Js not null also every column's Jacobian, side by
  // side: Js = [J_1 ... J_n] (Out x In n), its tangents carried as one block per layer
  // (P_l = s_l W_l [diag(act'(a_j)) P_l-1,j]_j, one product for all columns).
  template <class CtxBlock>
  Eigen::Matrix<S, Out, Eigen::Dynamic> evaluate_block(const Eigen::Matrix<S, In, Eigen::Dynamic>& X,
                                                       const CtxBlock* Ctx,
                                                       Eigen::Matrix<S, Out, Eigen::Dynamic>* Js) const {
    const scale_array sc = scales();
    const Eigen::Index n = X.cols();
    Eigen::Matrix<S, widths[1], Eigen::Dynamic> A(widths[1], n);
    A.noalias() = weight<0>().template leftCols<In>() * X;
    if constexpr (C > 0) A.noalias() += weight<0>().template rightCols<C>() * (*Ctx);
    (void)Ctx;
    A *= sc[0];
    A.colwise() += bias<0>();
    Eigen::Matrix<S, widths[1], Eigen::Dynamic> P;
    if (Js) {
      const Eigen::Matrix<S, widths[1], In> P0 = sc[0] * weight<0>().template leftCols<In>();
      P.resize(widths[1], In * n);
      for (Eigen::Index j = 0; j < n; ++j) P.middleCols(j * In, In) = P0;
    }
    return block_from<1>(A, Js ? &P : nullptr, sc, Js);
  }
  template <int L>
  Eigen::Matrix<S, Out, Eigen::Dynamic> block_from(const Eigen::Matrix<S, widths[L], Eigen::Dynamic>& A,
                                                   Eigen::Matrix<S, widths[L], Eigen::Dynamic>* P,
                                                   const scale_array& sc,
                                                   Eigen::Matrix<S, Out, Eigen::Dynamic>* Js) const {
    const Eigen::Index n = A.cols();
    const Eigen::Matrix<S, widths[L], Eigen::Dynamic> H = Act::apply(A.array()).matrix();
    Eigen::Matrix<S, widths[L + 1], Eigen::Dynamic> next(widths[L + 1], n);
    next.noalias() = weight<L>() * H;
    next *= sc[std::size_t(L)];
    next.colwise() += bias<L>();
    Eigen::Matrix<S, widths[L + 1], Eigen::Dynamic> nextP;
    if (P) {
      const Eigen::Matrix<S, widths[L], Eigen::Dynamic> slope = Act::derivative(A.array()).matrix();
      for (Eigen::Index j = 0; j < n; ++j) P->middleCols(j * In, In).array().colwise() *= slope.col(j).array();
      nextP.resize(widths[L + 1], In * n);
      nextP.noalias() = weight<L>() * (*P);
      nextP *= sc[std::size_t(L)];
    }
    if constexpr (L == layers - 1) {
      if (Js) *Js = std::move(nextP);
      return next;
    } else {
      return block_from<L + 1>(next, P ? &nextP : nullptr, sc, Js);
    }
  }

  // The power iteration on every layer, `iterations` times; returns the largest relative
  // change of a sigma_l in the last iteration.
  double update_spectral_norm(int iterations = 1)
    requires normalised
  {
    double change = 0;
    for (int k = 0; k < iterations; ++k) {
      change = 0;
      [&]<int... L>(std::integer_sequence<int, L...>) { ((change = std::max(change, power_step<L>())), ...); }(
          std::make_integer_sequence<int, layers>{});
    }
    return change;
  }
  template <int L>
  double power_step() {
    const S before = sigma<L>();
    Eigen::Map<Eigen::Matrix<S, widths[L + 1], 1>> uu(spectral.data() + u_offsets[L]);
    const Eigen::Matrix<S, widths[L], 1> v = weight<L>().transpose() * uu;
    const S vn = v.norm();
    if (!(vn > S(0))) return 0.0;
    const Eigen::Matrix<S, widths[L + 1], 1> w = weight<L>() * (v / vn);
    const S wn = w.norm();
    if (!(wn > S(0))) return 0.0;
    uu = w / wn;
    const S after = sigma<L>();
    return after > S(0) ? double(std::abs(after - before) / after) : 0.0;
  }

  // Training's update (bijectors/residual.hpp, after every optimizer step): on every
  // layer the power iteration from the current u until sigma changes by less than 1e-12
  // (relative), at most max_iterations times; where that has not converged (close
  // singular values make the iteration slow), u is set to W's leading left singular
  // vector from the eigendecomposition of the smaller of W W^T and W^T W. Then every
  // sigma_l is W_l's largest singular value to rounding.
  void settle_spectral_norm(int max_iterations)
    requires normalised
  {
    [&]<int... L>(std::integer_sequence<int, L...>) { (settle_layer<L>(max_iterations), ...); }(
        std::make_integer_sequence<int, layers>{});
  }
  template <int L>
  void settle_layer(int max_iterations) {
    for (int k = 0; k < max_iterations; ++k)
      if (power_step<L>() < 1e-12) return;
    constexpr int out = widths[L + 1], in = widths[L];
    Eigen::Map<Eigen::Matrix<S, out, 1>> uu(spectral.data() + u_offsets[L]);
    const weight_t<L> W = weight<L>();
    // dynamic sizes: one instantiation of the solver per scalar type
    using dyn = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    if constexpr (out <= in) {
      const Eigen::SelfAdjointEigenSolver<dyn> es(dyn(W * W.transpose()));
      uu = es.eigenvectors().col(out - 1);
    } else {
      const Eigen::SelfAdjointEigenSolver<dyn> es(dyn(W.transpose() * W));
      const Eigen::Matrix<S, out, 1> w = W * es.eigenvectors().col(in - 1);
      if (w.norm() > S(0)) uu = w / w.norm();
    }
  }

  void reset_parameters(philox_stream& rng, init scheme, const S* output_bias) {
    for (int l = 0; l < layers; ++l) {
      S* w = values.data() + offsets[l];
      const std::size_t n = std::size_t(widths[l + 1]) * (widths[l] + 1);
      if (l == layers - 1 && scheme == init::identity_start) {
        for (std::size_t i = 0; i < n; ++i) w[i] = S(0);
      } else {
        fill_uniform(w, n, widths[l], rng);
      }
    }
    if (output_bias) {
      S* b = values.data() + offsets[layers - 1] + std::size_t(Out) * widths[layers - 1];
      for (int o = 0; o < Out; ++o) b[o] += output_bias[o];
    }
    if constexpr (normalised) {
      for (auto& v : spectral) v = rng.normal<S>();
      for (int k = 0; k < max_power_iterations; ++k)
        if (update_spectral_norm(1) < 1e-12) break;
    }
  }

  // for parameter_walkers: "l.weight", "l.bias" and (spectral) "l.power_iteration_state"
  // for every layer l
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    for (int l = 0; l < layers; ++l) {
      const std::size_t nw = std::size_t(widths[l + 1]) * widths[l];
      f(detail::message(l, ".weight"), self.values.data() + offsets[l], std::size_t(widths[l + 1]), std::size_t(widths[l]));
      f(detail::message(l, ".bias"), self.values.data() + offsets[l] + nw, std::size_t(widths[l + 1]), std::size_t(0));
    }
    if constexpr (normalised)
      for (int l = 0; l < layers; ++l)
        f(detail::message(l, ".power_iteration_state"), self.spectral.data() + u_offsets[l], std::size_t(widths[l + 1]), std::size_t(0));
  }
};

template <int In, int Out, int C, class S, class Act, double Coefficient, int... Hidden>
using lipschitz_mlp = tangent_mlp<In, Out, C, S, Act, weight_normalisation::spectral, Coefficient, Hidden...>;

}  // namespace detail

template <class Act, int... Hidden>
struct LipschitzMLPWith {
  static_assert(act::Activation<Act>, "flowtmpl: LipschitzMLPWith<Act, ...>: Act must be an activation");
  template <int In, int Out, int C, class S, double Coefficient>
  using lipschitz_network = detail::lipschitz_mlp<In, Out, C, S, Act, Coefficient, Hidden...>;
};

template <int... Hidden>
struct LipschitzMLP : LipschitzMLPWith<act::lipswish, Hidden...> {
  template <class Act>
  using with = LipschitzMLPWith<Act, Hidden...>;
};

}  // namespace flowtmpl
