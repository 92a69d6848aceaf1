// flowtmpl/detail/conditioned.hpp: the per-sample members shared by the layers with a
// conditioner (Coupling, the autoregressive layers). Derived provides
//   template <direction Dir> value_and_log_det<vec, S> apply(const vec& v, const S* ctx)
//   template <direction Dir> vec apply_vjp(const vec& v, const S* ctx, const vec& g,
//                                          S gld, Derived& grad, S* gctx)
// (ctx: C context values, nullptr when C = 0; gctx: where the context's cotangent is
// added, or nullptr) and gets forward, inverse, log_det, the
// fused forms and the vector-Jacobian products (flowtmpl/differentiable.hpp), without a
// context when C = 0 (a Bijector) and with one when C > 0 (a ConditionalBijector), and
// the transformer's domain where it has one. Derived also
// names its network (network(), network_name) and holds `transformer`, and gets
// reset_parameters, for_each_parameter_tensor (and _block), validate, and
// network_vjp_block, the common part of the gradient of a block of samples.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../direction.hpp"
#include "eigen.hpp"

#include "../core.hpp"
#include "../conditioners/conditioner.hpp"
#include "../transformers/transformer.hpp"
#include "interval.hpp"
#include "context_check.hpp"
#include "members.hpp"

namespace flowtmpl::detail {

template <class Derived, int D, class S, int C, class Transformer>
struct conditioned_ops : parameter_walkers<Derived> {
  using vec = Eigen::Matrix<S, D, 1>;
  using ctx_vec = Eigen::Matrix<S, (C > 0 ? C : 1), 1>;

  FLOWTMPL_HOST_DEVICE vec forward(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<direction::forward>(z, nullptr).value;
  }
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& x) const
    requires(C == 0)
  {
    return self().template apply<direction::inverse>(x, nullptr).value;
  }
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<direction::forward>(z, nullptr).log_det;
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z) const
    requires(C == 0)
  {
    return self().template apply<direction::forward>(z, nullptr);
  }
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& x) const
    requires(C == 0)
  {
    return self().template apply<direction::inverse>(x, nullptr);
  }

  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return self().template apply<direction::forward>(z, checked_context<S, C, Derived>(c, "forward").data()).value;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return self().template apply<direction::inverse>(x, checked_context<S, C, Derived>(c, "inverse").data()).value;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE S log_det(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return self().template apply<direction::forward>(z, checked_context<S, C, Derived>(c, "log_det").data()).log_det;
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& z, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return self().template apply<direction::forward>(z, checked_context<S, C, Derived>(c, "forward_and_log_det").data());
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const
    requires(C > 0)
  {
    return self().template apply<direction::inverse>(x, checked_context<S, C, Derived>(c, "inverse_and_log_det").data());
  }

  // ---- gradients --------------------------------------------------------------------
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const vec& gx, S gld, Derived& grad) const
    requires(C == 0)
  {
    return self().template apply_vjp<direction::forward>(z, nullptr, gx, gld, grad, nullptr);
  }
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& x, const vec& gz, S gld, Derived& grad) const
    requires(C == 0)
  {
    return self().template apply_vjp<direction::inverse>(x, nullptr, gz, gld, grad, nullptr);
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const Eigen::MatrixBase<Ctx>& c, const vec& gx, S gld, Derived& grad) const
    requires(C > 0)
  {
    return self().template apply_vjp<direction::forward>(z, checked_context<S, C, Derived>(c, "forward_vjp").data(), gx, gld,
                                                         grad, nullptr);
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& x, const Eigen::MatrixBase<Ctx>& c, const vec& gz, S gld, Derived& grad) const
    requires(C > 0)
  {
    return self().template apply_vjp<direction::inverse>(x, checked_context<S, C, Derived>(c, "inverse_vjp").data(), gz, gld,
                                                         grad, nullptr);
  }
  // the same, adding the context's cotangent into gc
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward_vjp(const vec& z, const Eigen::MatrixBase<Ctx>& c, const vec& gx, S gld, Derived& grad,
                                       ctx_vec& gc) const
    requires(C > 0)
  {
    return self().template apply_vjp<direction::forward>(z, checked_context<S, C, Derived>(c, "forward_vjp").data(), gx, gld,
                                                         grad, gc.data());
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse_vjp(const vec& x, const Eigen::MatrixBase<Ctx>& c, const vec& gz, S gld, Derived& grad,
                                       ctx_vec& gc) const
    requires(C > 0)
  {
    return self().template apply_vjp<direction::inverse>(x, checked_context<S, C, Derived>(c, "inverse_vjp").data(), gz, gld,
                                                         grad, gc.data());
  }

  // The common part of the gradient of a block of samples (host; the layer's vjp_block):
  // the network evaluated with a tape on In (n columns: the rows of V it reads), then for
  // every column and every transformed feature i, at row j = row_of(i) of V and G, the
  // transformer's vjp in direction Dir, G(j, col) replaced by the input's cotangent; the
  // parameters' cotangents go into grad (the transformer's directly, the network's
  // through its backward pass over the block). Returns the cotangents of In. With a
  // context (C > 0): Ctx the context block (C x n), and its cotangents added into *GC
  // when GC is not null.
  //   record_network(In, Ctx)   the network's taped evaluation: {tape, theta}, theta
  //       the raw parameters (F P x n, in the network's storage order)
  //   record_transform<Dir>(In, V, ld, Ctx, row_of)   record_network, then the
  //       transformer over the block in place (the layers' record_block)
  //   network_vjp_recorded<Dir>(record, V, G, ...)   the rest, from a record (the
  //       layers' record_block keeps it from the gradient's forward pass, so that the
  //       network runs once per step: training/block_gradient.hpp)
  using context_block = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  template <class Tape, class Theta>
  struct network_record {
    Tape tape;
    Theta theta;
  };
  template <class InBlock>
  auto record_network(const InBlock& In, const context_block* Ctx) const {
    const auto& net = self().network();
    using Net = std::remove_cvref_t<decltype(net)>;
    typename Net::block_tape tape;
    auto theta = [&] {
      if constexpr (C > 0) {
        return net.evaluate_block_taped(In, *Ctx, tape);
      } else {
        (void)Ctx;
        return net.evaluate_block_taped(In, tape);
      }
    }();
    return network_record<typename Net::block_tape, decltype(theta)>{std::move(tape), std::move(theta)};
  }
  // The layers' record_block: the network's taped evaluation on In, then every
  // transformed feature i in direction Dir in place at row row_of(i) of V (apply_block's
  // values bitwise), the varying log-dets added to ld; returns the record. In may be V
  // itself: the network has read it before V changes.
  template <direction Dir, class InBlock, class RowOf>
  auto record_transform(const InBlock& In, Eigen::Matrix<S, D, Eigen::Dynamic>& V,
                        Eigen::Matrix<S, 1, Eigen::Dynamic>& ld, const context_block* Ctx, RowOf row_of) const {
    constexpr int F = Transformer::features, P = Transformer::params_per_feature;
    auto rec = record_network(In, Ctx);
    Eigen::Matrix<S, 1, Eigen::Dynamic> acc = Eigen::Matrix<S, 1, Eigen::Dynamic>::Zero(V.cols());
    for (int i = 0; i < F; ++i)
      transform_row<Dir>(self().transformer, i, V.row(row_of(i)), rec.theta, Eigen::Index(i) * P, acc);
    if constexpr (Derived::log_det_kind == flowtmpl::log_det_kind::input_dependent) ld += acc;
    return rec;
  }
  template <direction Dir, class InBlock, class RowOf>
  auto network_vjp_block(const InBlock& In, const Eigen::Matrix<S, D, Eigen::Dynamic>& V,
                         Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, Derived& grad, RowOf row_of,
                         const context_block* Ctx = nullptr, context_block* GC = nullptr) const {
    return network_vjp_recorded<Dir>(record_network(In, Ctx), V, G, gld, grad, row_of, Ctx, GC);
  }
  template <direction Dir, class Record, class RowOf>
  auto network_vjp_recorded(const Record& rec, const Eigen::Matrix<S, D, Eigen::Dynamic>& V,
                            Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, Derived& grad, RowOf row_of,
                            const context_block* Ctx = nullptr, context_block* GC = nullptr) const {
    constexpr int F = Transformer::features, P = Transformer::params_per_feature;
    const auto& net = self().network();
    (void)Ctx;  // the context's part of the network is on the tape
    const auto backward = [&](const auto& gtheta) {
      if constexpr (C > 0) {
        return net.backward_block(rec.tape, gtheta, grad.network(), GC);
      } else {
        (void)GC;
        return net.backward_block(rec.tape, gtheta, grad.network());
      }
    };
    using Theta = std::remove_cvref_t<decltype(rec.theta)>;
    // with the transformer's row form, the parameters' cotangents in the storage order
    // of the network's output (F P x n)
    using GTheta = Eigen::Matrix<S, F * P, Eigen::Dynamic, Theta::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor>;
    if constexpr (requires(GTheta& gtheta) {
                    self().transformer.template vjp_row<Dir>(0, V.row(0), rec.theta, 0, G.row(0), gld, gtheta,
                                                             &grad.transformer);
                  }) {
      // one feature over the whole block at a time, G's row j replaced in place
      GTheta gtheta = GTheta::Zero(F * P, V.cols());
      for (int i = 0; i < F; ++i) {
        const int j = row_of(i);
        self().transformer.template vjp_row<Dir>(i, V.row(j), rec.theta, Eigen::Index(i) * P, G.row(j), gld, gtheta,
                                                 &grad.transformer);
      }
      return backward(gtheta);
    } else {
      return backward(vjp_per_column<Dir>(rec.theta, V, G, gld, grad, row_of));
    }
  }

  // network_vjp_recorded's transformer part for a transformer without a row form:
  // transformer_vjp<Dir> per column and feature; returns the parameters' cotangents
  // (F P x n).
  template <direction Dir, class Theta, class RowOf>
  auto vjp_per_column(const Theta& theta_block, const Eigen::Matrix<S, D, Eigen::Dynamic>& V,
                      Eigen::Matrix<S, D, Eigen::Dynamic>& G, S gld, Derived& grad, RowOf row_of) const {
    constexpr int F = Transformer::features, P = Transformer::params_per_feature;
    // every column's F P parameters and their cotangents contiguous
    Eigen::Matrix<S, F * P, Eigen::Dynamic> columns, gcolumns = Eigen::Matrix<S, F * P, Eigen::Dynamic>::Zero(F * P, V.cols());
    if constexpr (Theta::IsRowMajor) columns = theta_block;
    const S* theta = Theta::IsRowMajor ? columns.data() : theta_block.data();
    const Eigen::Index stride = Theta::IsRowMajor ? Eigen::Index(F * P) : theta_block.rows();
    for (Eigen::Index col = 0; col < V.cols(); ++col) {
      const S* th = theta + col * stride;
      S* gth = gcolumns.data() + col * gcolumns.rows();
      for (int i = 0; i < F; ++i) {
        const int j = row_of(i);
        G(j, col) = transformer_vjp<Dir>(self().transformer, i, V(j, col), th + i * P, G(j, col), gld, gth + i * P,
                                         &grad.transformer);
      }
    }
    return gcolumns;
  }

  static constexpr interval<S> forward_domain()
    requires requires { Transformer::domain(); }
  {
    return Transformer::domain();
  }
  // the transformer's image where it maps its domain elsewhere (IntervalSpline)
  static constexpr interval<S> inverse_domain()
    requires requires { Transformer::domain(); }
  {
    if constexpr (requires { Transformer::image(); })
      return Transformer::image();
    else
      return Transformer::domain();
  }

  // ---- parameters -------------------------------------------------------------------
  // A start for the network (conditioners/conditioner.hpp); its last layer's bias is
  // the transformer's identity parameters, so init::identity_start is the identity map.
  void reset_parameters(std::uint64_t seed, init scheme = init::identity_start) {
    constexpr int P = Transformer::params_per_feature;
    std::array<S, Transformer::features * P> bias;
    for (int i = 0; i < Transformer::features; ++i) Transformer::identity_parameters(bias.data() + i * P);
    philox_stream rng(seed, 0);
    self_mut().network().reset_parameters(rng, scheme, bias.data());
  }
  // for parameter_walkers: the network's blocks (named network_name + their name), then
  // the transformer's ("transformer." + their name)
  template <class Self, class F>
  static void walk_parameter_tensors(Self& self, F& f) {
    detail::for_each_member_tensor(self.network(), Derived::network_name, f);
    detail::for_each_member_tensor(self.transformer, "transformer.", f);
  }
  const char* validate() const {
    if constexpr (requires { self().network().validate(); })
      if (const char* m = self().network().validate()) return m;
    if constexpr (requires { self().transformer.validate(); })
      if (const char* m = self().transformer.validate()) return m;
    return nullptr;
  }

 private:
  FLOWTMPL_HOST_DEVICE const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self_mut() { return static_cast<Derived&>(*this); }
};

}  // namespace flowtmpl::detail
