// flowtmpl/host/checked_mode.hpp: checked mode of the host batch entry points.
//
// Pass flowtmpl::checked as the last argument of forward, inverse, forward_and_log_det,
// inverse_and_log_det, log_det or log_prob (flowtmpl::unchecked, the default, tests
// nothing). Samples are then evaluated one at a time, layer by layer, serially, and
// the first problem throws flowtmpl::domain_error naming the layer (its position in the
// chain, dotted for nested chains, and its name, "layer 2 (Inverse<Exp>)"), the
// sample, the component and the value: invalid parameters (a layer's validate()), a
// non-finite input, an input outside a layer's domain (forward_domain() /
// inverse_domain()), an iterative solve that did not converge (a layer's
// solve_status(dir, v, ctx): Residual's forward, Continuous's ODE solves), a non-finite output or log-det; for a
// conditional flow also a non-finite context component.
//   detail::checked_sample(b, dir, x, sample [, ctx])   one sample through b in
//                                               direction dir (ctx: its context's values)
//   detail::evaluation_mode<M>                  M is checked_t or unchecked_t
//   detail::require_exceptions_for<Mode>()      checked mode needs exceptions: a
//                                               compile-time error without them
// The messages are built (on the heap) only when a check fails.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "../config.hpp"
#include "../direction.hpp"
#include "../detail/eigen.hpp"
#include "../detail/interval.hpp"

#include "../bijectors/embedded_context.hpp"
#include "../chain.hpp"
#include "../core.hpp"
#include "../errors.hpp"
#include "batch.hpp"

namespace flowtmpl {

struct checked_t {
  explicit checked_t() = default;
};
inline constexpr checked_t checked{};
struct unchecked_t {
  explicit unchecked_t() = default;
};
inline constexpr unchecked_t unchecked{};

namespace detail {

#if FLOWTMPL_HAS_EXCEPTIONS
// Where a layer sits: its index in each enclosing chain (the outermost first; chains
// nested deeper than max_depth keep the outer indices) and how many Inverse<> wrap it.
struct layer_path {
  static constexpr int max_depth = 16;
  int index[max_depth];
  int depth = 0;
  int inversions = 0;
  std::string label(const char* name) const {
    std::string s = "layer ";
    for (int i = 0; i < depth; ++i) append_piece(s, message(i ? "." : "", index[i]));
    if (depth == 0) s.push_back('0');
    s.append(" (");
    for (int i = 0; i < inversions; ++i) s.append("Inverse<");
    s.append(name);
    for (int i = 0; i < inversions; ++i) s.push_back('>');
    s.push_back(')');
    return s;
  }
};

// ctx: the sample's context (C values) for a conditional layer, else nullptr.
template <class L>
void checked_leaf(const L& layer, direction dir, vector_t<L>& v, typename L::scalar_type& ld, long sample,
                  const layer_path& path, const typename L::scalar_type* ctx) {
  using S = typename L::scalar_type;
  const bool forward_dir = dir == direction::forward;
  const char* dir_name = forward_dir ? "forward" : "inverse";
  if constexpr (requires { layer.validate(); }) {
    if (const char* msg = layer.validate())
      fail_domain(message(path.label(L::name), ": invalid parameters: ", msg), path.label(L::name), sample, -1,
                  std::numeric_limits<double>::quiet_NaN());
  }
  const bool has_domain = forward_dir ? requires { L::forward_domain(); } : requires { L::inverse_domain(); };
  if (has_domain) {
    interval<S> dom;
    if constexpr (requires { L::forward_domain(); L::inverse_domain(); }) {
      dom = forward_dir ? L::forward_domain() : L::inverse_domain();
    } else if constexpr (requires { L::forward_domain(); }) {
      dom = L::forward_domain();
    } else if constexpr (requires { L::inverse_domain(); }) {
      dom = L::inverse_domain();
    }
    for (int i = 0; i < L::dim; ++i)
      if (!dom.contains(v[i]))
        fail_domain(message(path.label(L::name), ", sample ", sample, ", component ", i, ": value ", v[i],
                            " is outside the domain ", dom.to_string(), " of its ", dir_name, " direction"),
                    path.label(L::name), sample, i, double(v[i]));
  }
  // a layer whose direction is an iterative solve (Residual's forward) says how it went
  if constexpr (requires { layer.solve_status(dir, v, ctx); }) {
    const auto st = layer.solve_status(dir, v, ctx);
    if constexpr (requires { st.evaluations; }) {  // an ODE solve (Continuous)
      if (!st.converged)
        fail_domain(message(path.label(L::name), ", sample ", sample, ": the ", dir_name,
                            " direction's ODE solve stopped at t = ", st.reached, " before the end: ", st.steps,
                            " steps accepted, ", st.rejected, " rejected (the solver's max_steps), ", st.evaluations,
                            " evaluations"),
                    path.label(L::name), sample, -1, st.reached);
    } else if (!st.converged) {
      fail_domain(message(path.label(L::name), ", sample ", sample, ": the ", dir_name,
                          " direction's fixed-point solve did not converge: ", st.iterations,
                          " iterations, last step ", st.step, " (relative to the iterate)"),
                  path.label(L::name), sample, -1, st.step);
    }
  }
  const auto r = [&] {
    if constexpr (context_dim_of<L>() > 0) {
      const context_t<L> c = Eigen::Map<const context_t<L>>(ctx);
      return forward_dir ? flowtmpl::forward_and_log_det(layer, v, c) : flowtmpl::inverse_and_log_det(layer, v, c);
    } else {
      (void)ctx;
      return forward_dir ? flowtmpl::forward_and_log_det(layer, v) : flowtmpl::inverse_and_log_det(layer, v);
    }
  }();
  for (int i = 0; i < L::dim; ++i)
    if (!std::isfinite(double(r.value[i])))
      fail_domain(message(path.label(L::name), ", sample ", sample, ", component ", i, ": the ", dir_name, " direction gave ",
                          r.value[i], " from the input ", v[i]),
                  path.label(L::name), sample, i, double(r.value[i]));
  if (!std::isfinite(double(r.log_det)))
    fail_domain(message(path.label(L::name), ", sample ", sample, ": the log-det of the ", dir_name, " direction is ",
                        r.log_det),
                path.label(L::name), sample, -1, double(r.log_det));
  v = r.value;
  ld += r.log_det;
}

template <class B>
void checked_walk(const B& b, direction dir, vector_t<B>& v, typename B::scalar_type& ld, long sample, layer_path path,
                  const typename B::scalar_type* ctx) {
  if constexpr (is_chain<B>::value) {
    auto step = [&](std::size_t i, const auto& layer) {
      layer_path p = path;
      if (p.depth < layer_path::max_depth) p.index[p.depth++] = int(i);
      checked_walk(layer, dir, v, ld, sample, p, ctx);
    };
    if (dir == direction::forward) {
      b.for_each_layer([&](auto idx, const auto& layer) { step(idx.value, layer); });
    } else {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((step(B::size - 1 - I, b.template get<B::size - 1 - I>())), ...);
      }(std::make_index_sequence<B::size>{});
    }
  } else if constexpr (is_inverse_layer<B>::value) {
    layer_path p = path;
    ++p.inversions;
    checked_walk(b.base, opposite(dir), v, ld, sample, p, ctx);
  } else if constexpr (is_split_layer<B>::value) {
    // the inner chain on the first half, its layers numbered below the split's
    vector_t<typename B::inner_type> head = v.template head<B::half>();
    checked_walk(b.inner, dir, head, ld, sample, path, ctx);
    v.template head<B::half>() = head;
  } else if constexpr (is_embedded_context<B>::value) {
    // the layers read the embedding's output: it must be finite
    const auto e = b.embed_values(ctx);
    for (int i = 0; i < B::embedded_dim; ++i)
      if (!std::isfinite(double(e[i])))
        fail_domain(message(path.label(B::name), ", sample ", sample, ", component ", i,
                            ": the embedding network gave ", e[i], " for the context"),
                    path.label(B::name), sample, i, double(e[i]));
    checked_walk(b.inner, dir, v, ld, sample, path, e.data());
  } else {
    checked_leaf(b, dir, v, ld, sample, path, ctx);
  }
}

template <class S>
void check_finite(const char* what, const S* v, int size, long sample) {
  for (int i = 0; i < size; ++i)
    if (!std::isfinite(double(v[i])))
      fail_domain(message(what, ", sample ", sample, ", component ", i, ": value ", v[i], " is not finite"), what,
                  sample, i, double(v[i]));
}

// One sample through b (a Bijector, or a ConditionalBijector with ctx its context's C
// values) in direction dir.
template <class B>
result_t<B> checked_sample(const B& b, direction dir, const vector_t<B>& x, long sample,
                           const typename B::scalar_type* ctx = nullptr) {
  check_finite("input", x.data(), B::dim, sample);
  if constexpr (context_dim_of<B>() > 0) check_finite("context", ctx, context_dim_of<B>(), sample);
  vector_t<B> v = x;
  typename B::scalar_type ld(0);
  checked_walk(b, dir, v, ld, sample, layer_path{}, ctx);
  return {v, ld};
}
#endif

// flowtmpl::checked or flowtmpl::unchecked: the last argument of the host entry points.
template <class M>
concept evaluation_mode = std::is_same_v<M, checked_t> || std::is_same_v<M, unchecked_t>;

template <class Mode>
constexpr void require_exceptions_for() {
  static_assert(std::is_same_v<Mode, unchecked_t> || FLOWTMPL_HAS_EXCEPTIONS,
                "flowtmpl: checked mode reports by exception and is not available with -fno-exceptions");
}

}  // namespace detail
}  // namespace flowtmpl
