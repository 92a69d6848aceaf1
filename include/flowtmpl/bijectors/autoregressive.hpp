// flowtmpl/bijectors/autoregressive.hpp: autoregressive layers with a MADE conditioner.
//
// MaskedAutoregressive<Transformer, Made = MADE<64, 64>>   (MAF, Papamakarios et al. 2017)
//   forward (sampling, sequential):  x_i = tau(z_i; theta_i(x_<i))
//   inverse (density, parallel):     z_i = tau^-1(x_i; theta_i(x_<i)), theta = MADE(x)
// InverseAutoregressive<Transformer, Made = MADE<64, 64>>  (IAF, Kingma et al. 2016)
//   forward (sampling, parallel):    x_i = tau(z_i; theta_i(z_<i)), theta = MADE(z)
//   inverse (density, sequential):   z_i = tau^-1(x_i; theta_i(z_<i))
// The parallel direction is one network evaluation (a matrix-matrix product per block
// of samples on the host). The sequential direction does not re-run the network D
// times: MADE's sequential pass computes every hidden unit once, when the values below
// its degree are final (conditioners/made.hpp), so it costs about one network
// evaluation plus D transformer calls (docs/performance.md has the measured ratio); on
// the host a prepared layer runs it over a block of samples, each degree's units as one
// matrix-matrix product (sequential_block).
//
// Components are ordered as MADE's degrees: feature i depends on features < i; put a
// Permute between layers to vary the order. Structure: lower triangular. Log-det kind:
// zero with a volume-preserving transformer (Additive), else input-dependent. Domain:
// the transformer's; finite range as a coupling's (bijectors/coupling.hpp): MADE's sums
// overflow for inputs near the scalar's max, where unchecked results may be NaN or
// +-inf and checked mode refuses them.
//
// nflows: MaskedAffineAutoregressiveTransform (and the spline variants) compute, in
// their forward (normalizing) direction, z_i = tau(x_i; theta_i(x_<i)) with theta from
// MADE(x): that is this header's InverseAutoregressive forward as a function. In a flow
// (flowtmpl's forward = sampling) an nflows MAF layer is therefore
// Inverse<InverseAutoregressive<SoftplusAffine, MADE<h, ..., h>>> with the same
// parameters (tests/unit/bijectors/autoregressive_nflows_test.cpp).
//
// Parameters: `made` (nflows's state_dict names, "made.initial_layer.weight", ...) and
// the transformer's own. Default-constructed: the identity (the last layer 0, its bias
// the transformer's identity parameters). Context: as Coupling (C > 0 via
// Conditional<C, Spec>; the MADE's context layers read c). As in nflows, feature 0's
// parameters are the output layer's bias alone (its degree admits no hidden unit), so
// in one conditional autoregressive layer with D >= 2, x_0 does not depend on c: put a
// coupling or a second autoregressive layer after a permutation to condition it.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include "../direction.hpp"
#include "../detail/eigen.hpp"

#include "../conditioners/made.hpp"
#include "../core.hpp"
#include "../detail/conditioned.hpp"
#include "../detail/interval.hpp"
#include "../detail/members.hpp"
#include "../transformers/transformer.hpp"
#include "coupling.hpp"

namespace flowtmpl {

// Which autoregressive layer: masked (MAF: its inverse, the density direction, is the
// parallel one) or inverse (IAF: its forward, the sampling direction, is parallel).
enum class autoregressive_kind { masked, inverse };

// The form of an autoregressive layer: as_trained (the MADE's units in natural order, as
// its parameters are stored and trained) or prepared (what prepare() gives: the MADE
// with its hidden units sorted by degree (made.hpp), the same function with a faster
// sequential pass).
enum class autoregressive_form { as_trained, prepared };

template <class T, class Made, int D, class S, int C, autoregressive_kind Kind,
          autoregressive_form Form = autoregressive_form::as_trained>
struct AutoregressiveBijector
    : detail::conditioned_ops<AutoregressiveBijector<T, Made, D, S, C, Kind, Form>, D, S, C,
                              typename T::template transformer<D, S>> {
  using scalar_type = S;
  static constexpr int dim = D;
  static constexpr int context_dim = C;
  using transformer_type = typename T::template transformer<D, S>;
  static constexpr int P = transformer_type::params_per_feature;
  static constexpr bool prepared = Form == autoregressive_form::prepared;
  using made_type = std::conditional_t<prepared, typename Made::template conditioner<D, P, C, S>::sorted_type,
                                       typename Made::template conditioner<D, P, C, S>>;
  // The direction that is one network evaluation of the layer's input; the other one
  // is sequential.
  static constexpr direction parallel_direction =
      Kind == autoregressive_kind::inverse ? direction::forward : direction::inverse;
  using structure = flowtmpl::structure::lower_triangular;
  static constexpr flowtmpl::log_det_kind log_det_kind =
      transformer_type::volume_preserving ? flowtmpl::log_det_kind::zero : flowtmpl::log_det_kind::input_dependent;
  static constexpr const char* name =
      Kind == autoregressive_kind::inverse ? "InverseAutoregressive" : "MaskedAutoregressive";
  using vec = Eigen::Matrix<S, D, 1>;
  using ctx_vec = Eigen::Matrix<S, (C > 0 ? C : 1), 1>;

  made_type made;
  transformer_type transformer;

  AutoregressiveBijector() { this->reset_parameters(0); }  // the identity map
  // for prepare(), which overwrites every member (the default constructor resets the
  // parameters, drawing every weight: a cost per batch call)
  struct overwritten_t {};
  explicit AutoregressiveBijector(overwritten_t) {}

  // ---- per sample: forward, inverse, log_det and the fused forms come from
  // detail::conditioned_ops, which calls apply<Dir>(v, ctx) below -------------------

  // The transformer in direction Dir; the conditioning values are the layer's input
  // (parallel) when Dir is parallel_direction, its output (sequential) otherwise.
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> apply(const vec& v, const S* ctx) const {
    vec out;
    S ld = S(0);
    if constexpr (Dir == parallel_direction) {
      const auto theta = made.evaluate(v, ctx);
      for (int i = 0; i < D; ++i) {
        S l;
        out[i] = detail::transformer_apply<Dir>(transformer, i, v[i], theta.data() + i * P, l);
        ld += l;
      }
    } else {
      typename made_type::sequential_state st;
      made.sequential_begin(st, ctx);
      S theta[P];
      for (int i = 0; i < D; ++i) {
        made.sequential_step(st, i, theta);
        S l;
        out[i] = detail::transformer_apply<Dir>(transformer, i, v[i], theta, l);
        ld += l;
        st.x[i] = out[i];
      }
    }
    return {out, ld};
  }

  // Gradients (flowtmpl/differentiable.hpp). The parallel direction backpropagates
  // through the transformer and the MADE. The sequential direction out = S(v) is the
  // inverse of the parallel map P (P(out) = v, ld_S(v) = -ld_P(out)), so it is
  // differentiated implicitly: with J = dP/dout (triangular), the input's cotangent q
  // solves J^T q + gld grad ld_P = g, found by the sweep q += (g - T(q)) / diag(J),
  // T the parallel vjp without parameters; exact after at most D sweeps (J^T is
  // triangular), each one MADE backward pass on the same tape. The parameters then get
  // the parallel vjp of (-q, -gld).
  template <direction Dir>
  FLOWTMPL_HOST_DEVICE vec apply_vjp(const vec& v, const S* ctx, const vec& g, S gld, AutoregressiveBijector& grad,
                                     S* gctx) const {
    if constexpr (Dir == parallel_direction) {
      typename made_type::tape tape;
      const auto theta = made.evaluate_taped(v, ctx, tape);
      return parallel_vjp<Dir>(v, theta, tape, g, gld, &grad, gctx);
    } else {
      const vec out = apply<Dir>(v, ctx).value;
      typename made_type::tape tape;
      const auto theta = made.evaluate_taped(out, ctx, tape);
      // diag(J): the parallel direction's transformer derivative at out
      vec diag;
      for (int i = 0; i < D; ++i) {
        S scratch[P] = {};
        diag[i] = detail::transformer_vjp<opposite(Dir)>(transformer, i, out[i], theta.data() + i * P, S(1), S(0),
                                                         scratch, static_cast<transformer_type*>(nullptr));
      }
      vec q = vec::Zero();
      for (int sweep = 0; sweep < D; ++sweep) {
        const vec t = parallel_vjp<opposite(Dir)>(out, theta, tape, q, gld, nullptr, nullptr);
        const vec next = q + ((g - t).array() / diag.array()).matrix();
        if (next == q) break;
        q = next;
      }
      parallel_vjp<opposite(Dir)>(out, theta, tape, vec(-q), -gld, &grad, gctx);  // the context as a parameter
      return q;
    }
  }

  // The vjp of the parallel pass in direction Dir at input v, with theta and the
  // tape from made.evaluate_taped(v); parameters into *grad unless it is nullptr, the
  // context's cotangent into gctx unless it is nullptr.
  template <direction Dir, class Theta, class Tape>
  FLOWTMPL_HOST_DEVICE vec parallel_vjp(const vec& v, const Theta& theta, const Tape& tape, const vec& g, S gld,
                                        AutoregressiveBijector* grad, S* gctx) const {
    Eigen::Matrix<S, D * P, 1> gtheta = Eigen::Matrix<S, D * P, 1>::Zero();
    vec gv;
    transformer_type* tg = grad ? &grad->transformer : nullptr;
    for (int i = 0; i < D; ++i)
      gv[i] = detail::transformer_vjp<Dir>(transformer, i, v[i], theta.data() + i * P, g[i], gld, gtheta.data() + i * P, tg);
    gv += made.backward(tape, gtheta, grad ? &grad->made : nullptr, gctx);
    return gv;
  }

  // The same through D full network evaluations, as nflows computes the sequential
  // direction: the reference that the tests compare the sequential pass to, and the
  // baseline of the cost benchmark.
  template <direction Dir>
  value_and_log_det<vec, S> apply_naive(const vec& v, const S* ctx) const {
    if constexpr (Dir == parallel_direction) {
      return apply<Dir>(v, ctx);
    } else {
      vec out = vec::Zero();
      S ld = S(0);
      for (int pass = 0; pass < D; ++pass) {
        const auto theta = made.evaluate(out, ctx);
        ld = S(0);
        vec next;
        for (int i = 0; i < D; ++i) {
          S l;
          next[i] = detail::transformer_apply<Dir>(transformer, i, v[i], theta.data() + i * P, l);
          ld += l;
        }
        out = next;
      }
      return {out, ld};
    }
  }

  // ---- a block of samples (host) -----------------------------------------------------
  // The parallel direction: one network evaluation over the block. The sequential one
  // (prepared layers only): MADE's sequential pass over the block, feature by feature.
  template <direction Dir, class CtxBlock>
  void apply_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                   const CtxBlock* Ctx) const {
    if constexpr (Dir != parallel_direction) {
      sequential_block<Dir>(V, ld, Ctx);
    } else {
      const auto theta = made.evaluate_block(V, Ctx);
      Eigen::Matrix<S, 1, Eigen::Dynamic> acc = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(V.cols());
      for (int i = 0; i < D; ++i) detail::transform_row<Dir>(transformer, i, V.row(i), theta, Eigen::Index(i) * P, acc);
      if constexpr (log_det_kind == flowtmpl::log_det_kind::input_dependent) ld += acc;
    }
  }
  // The sequential direction over a block: rows 0 .. i-1 of V hold the outputs when
  // feature i's parameters are computed (in place, as apply's st.x).
  template <direction Dir, class CtxBlock>
  void sequential_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                        const CtxBlock* Ctx) const
    requires(prepared)
  {
    const Eigen::Index n = V.cols();
    typename made_type::sequential_block_state st;
    made.sequential_block_begin(st, n, Ctx);
    Eigen::Matrix<S, P, Eigen::Dynamic> theta(P, n);
    Eigen::Matrix<S, 1, Eigen::Dynamic> acc = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(n);
    for (int i = 0; i < D; ++i) {
      made.sequential_block_step(st, V, i, theta);
      detail::transform_row<Dir>(transformer, i, V.row(i), theta, Eigen::Index(0), acc);
    }
    if constexpr (log_det_kind == flowtmpl::log_det_kind::input_dependent) ld += acc;
  }
  // The gradient of a block in the parallel direction (training.hpp): V (D x n) is the
  // input, G the output's cotangents on entry and the input's on return, gld every
  // log-det's cotangent; parallel_vjp per column with the MADE's products over the block.
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld,
                 AutoregressiveBijector& grad) const
    requires(Dir == parallel_direction && C == 0 &&
             requires(const made_type& m, typename made_type::block_tape& t,
                      const Eigen::Matrix<S, D, Eigen::Dynamic>& X) { m.evaluate_block_taped(X, t); })
  {
    G += this->template network_vjp_block<Dir>(V, V, G, gld, grad, [](int i) { return i; });
  }
  // the same with the context block Ctx (C x n); its cotangents into *GC when given
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  template <direction Dir>
  void vjp_block(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, const context_block& Ctx,
                 Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, AutoregressiveBijector& grad, context_block* GC) const
    requires(Dir == parallel_direction && C > 0 &&
             requires(const made_type& m, typename made_type::block_tape& t,
                      const Eigen::Matrix<S, D, Eigen::Dynamic>& X,
                      const context_block& K) { m.evaluate_block_taped(X, K, t); })
  {
    G += this->template network_vjp_block<Dir>(V, V, G, gld, grad, [](int i) { return i; }, &Ctx, GC);
  }
  // The gradient's forward pass over a block in the parallel direction
  // (training/block_gradient.hpp): apply_block with the MADE's tape, the same values; the
  // record is what vjp_recorded needs in the reverse sweep, so the MADE runs once per
  // step. V is the input on entry, the output on return.
  template <direction Dir>
  auto record_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                    const context_block* Ctx) const
    requires(Dir == parallel_direction &&
             (requires(const made_type& m, typename made_type::block_tape& t,
                       const Eigen::Matrix<S, D, Eigen::Dynamic>& X) { m.evaluate_block_taped(X, t); } ||
              requires(const made_type& m, typename made_type::block_tape& t, const Eigen::Matrix<S, D, Eigen::Dynamic>& X,
                       const context_block& K) { m.evaluate_block_taped(X, K, t); }))
  {
    // the network reads V itself, before record_transform changes it
    return this->template record_transform<Dir>(V, V, ld, Ctx, [](int i) { return i; });
  }
  // vjp_block from record_block's record; V is the layer's input in direction Dir
  template <direction Dir, class Record>
  void vjp_recorded(const Eigen::Matrix<S, D, Eigen::Dynamic>& V, const Record& rec,
                    Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, AutoregressiveBijector& grad, const context_block* Ctx,
                    context_block* GC) const {
    G += this->template network_vjp_recorded<Dir>(rec, V, G, gld, grad, [](int i) { return i; }, Ctx, GC);
  }
  using no_ctx = Eigen::Matrix<S, 1, Eigen::Dynamic>;
  // the parallel direction always; the sequential one once prepared (sorted units)
  void forward_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0 && (parallel_direction == direction::forward || prepared))
  {
    apply_block<direction::forward>(V, ld, static_cast<const no_ctx*>(nullptr));
  }
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) const
    requires(C == 0 && (parallel_direction == direction::inverse || prepared))
  {
    apply_block<direction::inverse>(V, ld, static_cast<const no_ctx*>(nullptr));
  }
  template <class CtxBlock>
  void forward_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                     const CtxBlock& Ctx) const
    requires(C > 0 && (parallel_direction == direction::forward || prepared))
  {
    apply_block<direction::forward>(V, ld, &Ctx);
  }
  template <class CtxBlock>
  void inverse_block(Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
                     const CtxBlock& Ctx) const
    requires(C > 0 && (parallel_direction == direction::inverse || prepared))
  {
    apply_block<direction::inverse>(V, ld, &Ctx);
  }

  // The same map with the MADE's hidden units sorted by degree: the sequential
  // direction then runs on contiguous blocks of the weights (the host prepares once per
  // batch call).
  AutoregressiveBijector<T, Made, D, S, C, Kind, autoregressive_form::prepared> prepare() const
    requires(!prepared)
  {
    using prepared_type = AutoregressiveBijector<T, Made, D, S, C, Kind, autoregressive_form::prepared>;
    prepared_type p{typename prepared_type::overwritten_t{}};
    p.made = made.sorted_copy();
    p.transformer = transformer;
    return p;
  }

  // ---- parameters -------------------------------------------------------------------
  static constexpr std::size_t parameter_count = made_type::parameter_count + detail::member_count<transformer_type>();
  // for detail::conditioned_ops: reset_parameters, for_each_parameter_block, validate
  static constexpr const char* network_name = "made.";
  made_type& network() { return made; }
  const made_type& network() const { return made; }
};

template <class T, class Made = MADE<64, 64>>
struct MaskedAutoregressive : bijector_spec {
  static_assert(detail::diagnose_unless<TransformerSpec<T>, diagnostic::not_a_transformer_spec<T>>());
  template <int D, class S>
  using bind = std::conditional_t<TransformerSpec<T>, AutoregressiveBijector<T, Made, D, S, 0, autoregressive_kind::masked>,
                                  detail::invalid_layer<D, S>>;
  template <int D, class S, int C>
  using bind_with_context =
      std::conditional_t<TransformerSpec<T>, AutoregressiveBijector<T, Made, D, S, C, autoregressive_kind::masked>,
                         detail::invalid_layer<D, S>>;
};

template <class T, class Made = MADE<64, 64>>
struct InverseAutoregressive : bijector_spec {
  static_assert(detail::diagnose_unless<TransformerSpec<T>, diagnostic::not_a_transformer_spec<T>>());
  template <int D, class S>
  using bind = std::conditional_t<TransformerSpec<T>, AutoregressiveBijector<T, Made, D, S, 0, autoregressive_kind::inverse>,
                                  detail::invalid_layer<D, S>>;
  template <int D, class S, int C>
  using bind_with_context =
      std::conditional_t<TransformerSpec<T>, AutoregressiveBijector<T, Made, D, S, C, autoregressive_kind::inverse>,
                         detail::invalid_layer<D, S>>;
};

}  // namespace flowtmpl
