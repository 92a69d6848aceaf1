// flowtmpl/bijectors/embedded_context.hpp: a conditional flow whose context passes
// through a learnable embedding network first (nflows's embedding_net, zuko's context
// networks, sbi's embedding nets).
//
//   Embedding<RawC, Net = MLP<64, 64>>   the third argument of Conditional<C, Spec, ...>:
//                            a network of the library (MLP<...>, MLPWith<Act, ...>) from
//                            the raw observation (RawC values) to the C components
//                            every layer of Spec reads. The flow then takes the raw
//                            observation as its context (context_dim == RawC).
//   EmbeddedContextBijector<Net, B>   what Conditional<C, Spec, Embedding<RawC, Net>>
//                            binds to for a bijector spec (a flow spec binds to a
//                            FlowDistribution whose transform is one); members
//                            `embedding` (the bound network, inputs RawC, outputs C)
//                            and `inner` (the bound conditional chain of context C).
//   b.embed(c)               the C-vector the layers read for the raw context c
//
// The embedding's parameters are named "embedding.<l>.weight" / ".bias" next to the
// layers' (for_each_parameter, safetensors files); reset_parameters draws them as
// PyTorch's Linear does, every layer (init::uniform whatever the scheme: an identity-start
// flow is the identity for any context, so the embedding need not start at zero).
// Gradients (differentiable.hpp) reach the embedding's parameters and the raw context.
// Cost: one network evaluation per sample (per block of samples on the host) on top
// of the inner flow's. Structure, log-det kind and domains: the inner flow's.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../detail/eigen.hpp"

#include "../conditioners/conditioner.hpp"
#include "../conditioners/mlp.hpp"
#include "../core.hpp"
#include "../detail/context_check.hpp"
#include "../diagnostics.hpp"
#include "../random.hpp"

namespace flowtmpl {

namespace detail {
template <class Net>
concept embedding_network_spec = requires { typename Net::template conditioner<1, 1, 0, double>; };
}  // namespace detail

template <int RawC, class Net = MLP<64, 64>>
struct Embedding {
  static_assert(RawC >= 1, "flowtmpl: Embedding<RawC, Net>: the raw context needs at least one component");
  static_assert(detail::embedding_network_spec<Net>,
                "flowtmpl: Embedding<RawC, Net>: Net must be a network of the library (MLP<64, 64>, "
                "MLPWith<act::tanh, 32>, ...)");
  static constexpr int raw_context_dim = RawC;
  template <int C, class S>
  using network = typename Net::template conditioner<RawC, C, 0, S>;
};

template <class Net, class B>
struct EmbeddedContextBijector {
  static_assert(ConditionalBijector<B>, "flowtmpl: EmbeddedContextBijector<Net, B>: B must read a context");
  static_assert(Net::outputs == B::context_dim && Net::context == 0,
                "flowtmpl: EmbeddedContextBijector<Net, B>: the embedding's outputs must be B's context");
  using scalar_type = typename B::scalar_type;
  using S = scalar_type;
  using structure = typename B::structure;
  static constexpr int dim = B::dim;
  static constexpr int context_dim = Net::inputs;       // what the user passes
  static constexpr int embedded_dim = B::context_dim;   // what the layers read
  static constexpr flowtmpl::log_det_kind log_det_kind = B::log_det_kind;
  static constexpr const char* name = "EmbeddedContext";
  using embedding_type = Net;
  using inner_type = B;
  using vec = Eigen::Matrix<S, dim, 1>;
  using raw_vec = Eigen::Matrix<S, context_dim, 1>;
  using embedded_vec = Eigen::Matrix<S, embedded_dim, 1>;

  Net embedding;
  B inner;

  EmbeddedContextBijector() { reset_embedding(0); }
  EmbeddedContextBijector(const Net& e, const B& b) : embedding(e), inner(b) {}

  // The C components the layers read for the raw context c (RawC values).
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE embedded_vec embed(const Eigen::MatrixBase<Ctx>& c) const {
    return embedding.evaluate(detail::checked_context<S, context_dim, EmbeddedContextBijector>(c, "embed"), nullptr);
  }
  FLOWTMPL_HOST_DEVICE embedded_vec embed_values(const S* raw) const {
    return embedding.evaluate(Eigen::Map<const raw_vec>(raw), nullptr);
  }
  // A block of raw contexts (RawC x n) to the layers' (C x n), host.
  template <class CB>
  Eigen::Matrix<S, embedded_dim, Eigen::Dynamic> embed_block(const CB& raw) const {
    return embedding.evaluate_block(raw, static_cast<const Eigen::Matrix<S, 1, Eigen::Dynamic>*>(nullptr));
  }

  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec forward(const vec& x, const Eigen::MatrixBase<Ctx>& c) const {
    return inner.forward(x, embed_values(checked(c, "forward").data()));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE vec inverse(const vec& y, const Eigen::MatrixBase<Ctx>& c) const {
    return inner.inverse(y, embed_values(checked(c, "inverse").data()));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE S log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const {
    return inner.log_det(x, embed_values(checked(c, "log_det").data()));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> forward_and_log_det(const vec& x, const Eigen::MatrixBase<Ctx>& c) const {
    return flowtmpl::forward_and_log_det(inner, x, embed_values(checked(c, "forward_and_log_det").data()));
  }
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE value_and_log_det<vec, S> inverse_and_log_det(const vec& y, const Eigen::MatrixBase<Ctx>& c) const {
    return flowtmpl::inverse_and_log_det(inner, y, embed_values(checked(c, "inverse_and_log_det").data()));
  }
  FLOWTMPL_HOST_DEVICE S constant_part() const { return detail::constant_part(inner); }

  auto prepare() const {
    using P = decltype(flowtmpl::prepare(inner));
    return EmbeddedContextBijector<Net, P>(embedding, flowtmpl::prepare(inner));
  }

  static constexpr auto forward_domain()
    requires requires { B::forward_domain(); }
  {
    return B::forward_domain();
  }
  static constexpr auto inverse_domain()
    requires requires { B::inverse_domain(); }
  {
    return B::inverse_domain();
  }
  const char* validate() const {
    if constexpr (requires { inner.validate(); })
      return inner.validate();
    else
      return nullptr;
  }

  // The embedding's start (parameters.hpp's reset_parameters calls it with the flow's seed).
  void reset_embedding(std::uint64_t seed) {
    philox_stream rng(seed, embedding_stream);
    const Eigen::Matrix<S, embedded_dim, 1> zero = Eigen::Matrix<S, embedded_dim, 1>::Zero();
    embedding.reset_parameters(rng, init::uniform, zero.data());
  }

 private:
  // the counter stream of the embedding's start: apart from the layers' (0, 1, ...)
  static constexpr std::uint64_t embedding_stream = 0x656d626564ull;
  template <class Ctx>
  FLOWTMPL_HOST_DEVICE static decltype(auto) checked(const Eigen::MatrixBase<Ctx>& c, const char* what) {
    return detail::checked_context<S, context_dim, EmbeddedContextBijector>(c, what);
  }
};

namespace detail {
template <class T>
struct is_embedded_context : std::false_type {};
template <class Net, class B>
struct is_embedded_context<EmbeddedContextBijector<Net, B>> : std::true_type {};
}  // namespace detail

}  // namespace flowtmpl
