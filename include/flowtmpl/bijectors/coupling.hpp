// flowtmpl/bijectors/coupling.hpp: Coupling<Transformer, Conditioner, Mask>, the
// coupling layer of NICE, RealNVP, Glow and neural spline flows (Dinh et al. 2014,
// 2016; Kingma & Dhariwal 2018; Durkan et al. 2019).
//
// The mask splits the D components into the conditioning part a (copied unchanged)
// and the transformed part b:
//   forward:  x_a = z_a,  x_b,i = tau(z_b,i; theta_i),  theta = conditioner(z_a [, c])
//   inverse:  z_a = x_a,  z_b,i = tau^-1(x_b,i; theta_i), theta = conditioner(x_a [, c])
// Both directions are one network evaluation (parallel). log-det = sum_i log tau'.
//
// Masks (what is transformed):
//   mask::half          the last D - D/2 components, conditioned on the first D/2
//   mask::half_flipped  the first D/2, conditioned on the rest
//   mask::even, mask::odd   components with an even (odd) index (RealNVP's alternating)
//   mask::bits<b0, ..., bD-1>   1 = transformed, 0 = conditioning; at least one of each
// Structure: block triangular for the partition (conditioning block first): for
// mask::half exactly structure::block_triangular<D/2, D - D/2>, otherwise
// structure::partitioned<...> with the block of every component. Log-det kind: zero
// when the transformer is volume preserving (Additive: NICE), else input-dependent.
// Domain: the transformer's (R, or [Lo, Hi] for BoundedSpline; the whole input is
// checked against it in checked mode). Finite range: for finite parameters, finite
// results while the conditioner's sums stay below the scalar's max, which holds for
// inputs up to max / 2^28 (1.3e30 in float) with weights of moderate size (what the
// conformance sweep checks); nearer max the network overflows (an identity start's zero
// last layer then makes 0 x inf = NaN): unchecked results there may be NaN or +-inf,
// never a crash, and checked mode refuses them (docs/robustness.md).
//
// Parameters: `conditioner` (its blocks named "conditioner.<name>") and the
// transformer's own, if any ("transformer.<name>"). A default-constructed coupling is
// the identity map (the conditioner's last layer 0, its bias the transformer's identity
// parameters); reset_parameters(seed, init) draws a start (conditioners/conditioner.hpp).
// Context: bound with C > 0 context components (Conditional<C, Spec>), the conditioner
// also reads c, and the layer models ConditionalBijector (forward(x, c), ...) instead
// of Bijector.
// Cost: one conditioner evaluation plus D - D/2 transformer calls per sample and
// direction; on the host, blocks of samples go through the conditioner as
// matrix-matrix products (forward_block / inverse_block).
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../conditioners/conditioner.hpp"
#include "../conditioners/mlp.hpp"
#include "../core.hpp"
#include "../detail/conditioned.hpp"
#include "../detail/interval.hpp"
#include "../detail/members.hpp"
#include "../transformers/additive.hpp"
#include "../transformers/affine.hpp"
#include "../transformers/spline.hpp"
#include "../transformers/transformer.hpp"
#include "affine.hpp"

namespace flowtmpl {

namespace mask {
struct half {
  template <int D>
  static constexpr bool transformed(int i) {
    return i >= D / 2;
  }
};
struct half_flipped {
  template <int D>
  static constexpr bool transformed(int i) {
    return i < D / 2;
  }
};
struct even {
  template <int D>
  static constexpr bool transformed(int i) {
    return i % 2 == 0;
  }
};
struct odd {
  template <int D>
  static constexpr bool transformed(int i) {
    return i % 2 == 1;
  }
};
template <int... Bits>
struct bits {
  static_assert(((Bits == 0 || Bits == 1) && ...), "flowtmpl: mask::bits<...>: every entry must be 0 or 1");
  static constexpr int size = int(sizeof...(Bits));
  template <int D>
  static constexpr bool transformed(int i) {
    constexpr int b[] = {Bits...};
    return b[i] == 1;
  }
};
}  // namespace mask

namespace detail {
template <class Mask, int D>
consteval int mask_count() {
  int n = 0;
  for (int i = 0; i < D; ++i) n += Mask::template transformed<D>(i) ? 1 : 0;
  return n;
}
template <class Mask, int D>
consteval bool mask_ok() {
  if constexpr (requires { Mask::size; }) {
    if (Mask::size != D) return false;
  }
  const int n = mask_count<Mask, D>();
  return n >= 1 && n <= D - 1;
}
template <class Mask, int D>
struct coupling_structure {
  static constexpr bool contiguous = [] {
    for (int i = 0; i < D; ++i)
      if (Mask::template transformed<D>(i) != (i >= D - mask_count<Mask, D>())) return false;
    return true;
  }();
  using type = decltype([]<int... I>(std::integer_sequence<int, I...>) {
    if constexpr (contiguous)
      return structure::block_triangular<D - mask_count<Mask, D>(), mask_count<Mask, D>()>{};
    else
      return structure::partitioned<(Mask::template transformed<D>(I) ? 1 : 0)...>{};
  }(std::make_integer_sequence<int, D>{}));
};
}  // namespace detail

template <class T, class Cond, class Mask, int D, class S, int C>
struct CouplingBijector
    : detail::conditioned_ops<CouplingBijector<T, Cond, Mask, D, S, C>, D, S, C,
                              typename T::template transformer<detail::mask_count<Mask, D>(), S>> {
  static_assert(detail::mask_ok<Mask, D>(),
                "flowtmpl: Coupling: for this dimension the mask transforms no component or all of them (a coupling "
                "needs at least one conditioning and one transformed component, so D >= 2), or mask::bits has "
                "another length");
  static constexpr int dim = D;
  static constexpr int context_dim = C;
  static constexpr int n_b = detail::mask_count<Mask, D>();
  static constexpr int n_a = D - n_b;
  using scalar_type = S;
  using transformer_type = typename T::template transformer<n_b, S>;
  static constexpr int P = transformer_type::params_per_feature;
  using conditioner_type = typename Cond::template conditioner<n_a, n_b * P, C, S>;
  using structure = typename detail::coupling_structure<Mask, D>::type;
  static constexpr flowtmpl::log_det_kind log_det_kind =
      transformer_type::volume_preserving ? flowtmpl::log_det_kind::zero : flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name = "Coupling";
  using vec = Eigen::Matrix<S, D, 1>;
  using ctx_vec = Eigen::Matrix<S, (C > 0 ? C : 1), 1>;

  static constexpr std::array<int, n_a> a_index = [] {
    std::array<int, n_a> r{};
    int n = 0;
    for (int i = 0; i < D; ++i)
      if (!Mask::template transformed<D>(i)) r[n++] = i;
    return r;
  }();
  static constexpr std::array<int, n_b> b_index = [] {
    std::array<int, n_b> r{};
    int n = 0;
    for (int i = 0; i < D; ++i)
      if (Mask::template transformed<D>(i)) r[n++] = i;
    return r;
  }();

  conditioner_type conditioner;
  transformer_type transformer;

  CouplingBijector() { this->reset_parameters(0); }  // the identity map

  // ---- per sample: forward, inverse, log_det and the fused forms come from
  // detail::conditioned_ops, which calls apply<Dir>(v, ctx) below -------------------

  template <direction Dir>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> apply(const vec& v, const S* ctx) const {
    // local copies: a static member table is host memory to nvcc
    constexpr std::array<int, n_a> a_idx = a_index;
    constexpr std::array<int, n_b> b_idx = b_index;
    Eigen::Matrix<S, n_a, 1> va;
    for (int i = 0; i < n_a; ++i) va[i] = v[a_idx[i]];
    const auto theta = conditioner.evaluate(va, ctx);
    vec out = v;
    S ld = S(0);
    for (int i = 0; i < n_b; ++i) {
      S l;
      const int j = b_idx[i];
      out[j] = detail::transformer_apply<Dir>(transformer, i, v[j], theta.data() + i * P, l);
      ld += l;
    }
    return {out, ld};
  }

  // Gradients (flowtmpl/differentiable.hpp): the cotangent of the output g and of the
  // log-det gld give the input's; the transformed part through the transformer, the
  // conditioning part directly and through the conditioner.
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE vec apply_vjp(const vec& v, const S* ctx, const vec& g, S gld, CouplingBijector& grad,
                                     S* gctx) const {
    // local copies: a static member table is host memory to nvcc
    constexpr std::array<int, n_a> a_idx = a_index;
    constexpr std::array<int, n_b> b_idx = b_index;
    Eigen::Matrix<S, n_a, 1> va;
    for (int i = 0; i < n_a; ++i) va[i] = v[a_idx[i]];
    typename conditioner_type::tape tape;
    const auto theta = conditioner.evaluate_taped(va, ctx, tape);
    Eigen::Matrix<S, n_b * P, 1> gtheta = Eigen::Matrix<S, n_b * P, 1>::Zero();
    vec gv = g;
    for (int i = 0; i < n_b; ++i) {
      const int j = b_idx[i];
      gv[j] = detail::transformer_vjp<Dir>(transformer, i, v[j], theta.data() + i * P, g[j], gld, gtheta.data() + i * P,
                                           &grad.transformer);
    }
    const auto ga = conditioner.backward(tape, gtheta, &grad.conditioner, gctx);
    for (int i = 0; i < n_a; ++i) gv[a_idx[i]] += ga[i];
    return gv;
  }

  // ---- a block of samples (host) -------------------------------------------------
  // the conditioning rows of V (D x n), the conditioner's input (n_a x n)
  static Eigen::Matrix<S, n_a, Eigen::Dynamic> conditioning_rows(const Eigen::Matrix<S, D, Eigen::Dynamic>& V) {
    Eigen::Matrix<S, n_a, Eigen::Dynamic> A(n_a, V.cols());
    for (int i = 0; i < n_a; ++i) A.row(i) = V.row(a_index[i]);
    return A;
  }
  // V (D x n) is transformed in place; the log-dets are added to ld (1 x n). Ctx is
  // C x n (nullptr when C = 0).
  template <direction Dir, class CtxBlock = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>>
  void apply_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                   const CtxBlock* Ctx = nullptr) const {
    const Eigen::Index n = V.cols();
    const auto theta = conditioner.evaluate_block(conditioning_rows(V), Ctx);
    Eigen::Matrix<S, 1, Eigen::Dynamic> acc = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(n);
    for (int i = 0; i < n_b; ++i)
      detail::transform_row<Dir>(transformer, i, V.row(b_index[i]), theta, Eigen::Index(i) * P, acc);
    if constexpr (log_det_kind == flowtmpl::log_det_kind::input_dependent) ld += acc;
  }
  // The gradient of a block (training.hpp): V (D x n) is this layer's input in the
  // direction Dir, G the cotangents of its output on entry and of its input on
  // return, gld the cotangent of every sample's log-det. apply_vjp for every column, with
  // the conditioner's products over the whole block.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld,
                 CouplingBijector& grad) const
    requires(C == 0 && requires(const conditioner_type& c, typename conditioner_type::block_tape& t,
                                const Eigen::Matrix<S, n_a, Eigen::Dynamic>& A) { c.evaluate_block_taped(A, t); })
  {
    const auto ga =
        this->template network_vjp_block<Dir>(conditioning_rows(V), V, G, gld, grad, [](int i) { return b_index[i]; });
    for (int i = 0; i < n_a; ++i) G.row(a_index[i]) += ga.row(i);
  }
  // the same with the context block Ctx (C x n); its cotangents into *GC when given
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, const context_block& Ctx,
                 Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, CouplingBijector& grad, context_block* GC) const
    requires(C > 0 && requires(const conditioner_type& c, typename conditioner_type::block_tape& t,
                               const Eigen::Matrix<S, n_a, Eigen::Dynamic>& A,
                               const context_block& K) { c.evaluate_block_taped(A, K, t); })
  {
    const auto ga = this->template network_vjp_block<Dir>(conditioning_rows(V), V, G, gld, grad,
                                                          [](int i) { return b_index[i]; }, &Ctx, GC);
    for (int i = 0; i < n_a; ++i) G.row(a_index[i]) += ga.row(i);
  }

  // The gradient's forward pass over a block (training/block_gradient.hpp): apply_block
  // with the conditioner's tape, the same values bitwise; the record it returns is what
  // vjp_recorded needs in the reverse sweep, so the conditioner runs once per step.
  // V is this layer's input in direction Dir on entry, its output on return; Ctx as in
  // apply_block.
  template <direction Dir>
  auto record_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                    const context_block* Ctx) const
    requires(requires(const conditioner_type& c, typename conditioner_type::block_tape& t,
                      const Eigen::Matrix<S, n_a, Eigen::Dynamic>& A) { c.evaluate_block_taped(A, t); } ||
             requires(const conditioner_type& c, typename conditioner_type::block_tape& t,
                      const Eigen::Matrix<S, n_a, Eigen::Dynamic>& A,
                      const context_block& K) { c.evaluate_block_taped(A, K, t); })
  {
    return this->template record_transform<Dir>(conditioning_rows(V), V, ld, Ctx, [](int i) { return b_index[i]; });
  }
  // vjp_block from record_block's record; V is the layer's input in direction Dir
  template <direction Dir, class Record>
  void vjp_recorded(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, const Record& rec,
                    Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, CouplingBijector& grad, const context_block* Ctx,
                    context_block* GC) const {
    const auto ga = this->template network_vjp_recorded<Dir>(rec, V, G, gld, grad, [](int i) { return b_index[i]; },
                                                             Ctx, GC);
    for (int i = 0; i < n_a; ++i) G.row(a_index[i]) += ga.row(i);
  }

  void forward_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0)
  {
    apply_block<direction::forward>(V, ld);
  }
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0)
  {
    apply_block<direction::inverse>(V, ld);
  }
  template <class CtxBlock>
  void forward_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                     const CtxBlock& Ctx) const
    requires(C > 0)
  {
    apply_block<direction::forward>(V, ld, &Ctx);
  }
  template <class CtxBlock>
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                     const CtxBlock& Ctx) const
    requires(C > 0)
  {
    apply_block<direction::inverse>(V, ld, &Ctx);
  }

  // ---- parameters -------------------------------------------------------------------
  static constexpr std::size_t parameter_count = conditioner_type::parameter_count + detail::member_count<transformer_type>();
  // for detail::conditioned_ops: reset_parameters, for_each_parameter_block, validate
  static constexpr const char* network_name = "conditioner.";
  conditioner_type& network() { return conditioner; }
  const conditioner_type& network() const { return conditioner; }
};

template <class T, class Cond = MLP<64, 64>, class Mask = mask::half>
struct Coupling : bijector_spec {
  static_assert(detail::diagnose_unless<TransformerSpec<T>, diagnostic::not_a_transformer_spec<T>>());
  template <int D>
  static constexpr bool accepts_dim = detail::mask_ok<Mask, D>();
  template <int D, class S>
  using bind = std::conditional_t<TransformerSpec<T>, CouplingBijector<T, Cond, Mask, D, S, 0>, detail::invalid_layer<D, S>>;
  template <int D, class S, int C>
  using bind_with_context = std::conditional_t<TransformerSpec<T>, CouplingBijector<T, Cond, Mask, D, S, C>, detail::invalid_layer<D, S>>;
};

}  // namespace flowtmpl
