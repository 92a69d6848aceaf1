// flowtmpl/testing/sweep.hpp: the conformance kit's finiteness sweep. For every layer,
// in each direction, forward_and_log_det (inverse_and_log_det) must give a finite value
// and log-det at every point of the default sweep over that direction's declared domain
// (forward_domain() / inverse_domain(); for a chain, the domain of the layer its input
// enters first; the real line where nothing is declared),
// cut to options::forward_sweep_range / inverse_sweep_range (or dropped), and at the
// points a test adds (options::sweep, inverse_sweep).
//
// The default sweep's values per component, those inside the interval kept:
//   0 and -0; +-denorm_min, +-min (the smallest normal), +-epsilon, +-0.5, +-1, +-3,
//   +-1e3, +-sqrt(large) and +-large, large = max / 2^28 (1.3e30 in float, 6.7e299 in
//   double: representable, with room for a factor of 2^28 before overflow);
//   each finite end: the end itself where closed, one representable value inside, and
//   a thousandth of the width (of max(1, |end|) for a half-line) inside; the midpoint
//   of a bounded interval.
// Its rows (sweep_rows): every value in every component at once, and for D > 1 the
// values cycled across the components (row r: value r + i in component i), so each
// value meets other values; then options::random_sweep_points rows of random values:
// on a bounded interval half uniform and half at log-uniform distances (down to 1e-7
// of the width) from an end, on a half-line the end plus or minus a log-uniform
// magnitude in [min, large], on the real line a log-uniform magnitude in [min, large]
// with a random sign. Cost: about 2 (values + 1) + random_sweep_points calls of the
// layer per direction.
//
// The checks, as the report counts them: finite.forward and finite.inverse (one per
// point), and sweep, which fails where a range is narrowed or dropped without a reason,
// or misses the domain. The report's notes say what each direction's sweep covered and
// why it was narrowed or dropped.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../chain.hpp"
#include "../bijectors/embedded_context.hpp"
#include "../core.hpp"
#include "../detail/interval.hpp"
#include "../direction.hpp"
#include "../errors.hpp"
#include "../parameters.hpp"
#include "../random.hpp"
#include "options.hpp"
#include "report.hpp"

namespace flowtmpl::testing {

// `values.size()` rows of length d, row r being values[r], values[r + 1], ... (cyclic):
// every value appears in every component.
template <class S>
std::vector<std::vector<S>> cycled_rows(int d, const std::vector<S>& values) {
  std::vector<std::vector<S>> rows;
  for (std::size_t r = 0; r < values.size(); ++r) {
    std::vector<S> row;
    for (int i = 0; i < d; ++i) row.push_back(values[(r + std::size_t(i)) % values.size()]);
    rows.push_back(row);
  }
  return rows;
}

namespace detail {

// The largest magnitude of the default sweep: max / 2^28.
template <class S>
constexpr S sweep_large() {
  return std::numeric_limits<S>::max() / S(268435456.0);
}

template <class C>
struct chain_ends;
template <class First, class... Rest>
struct chain_ends<Chain<First, Rest...>> {
  using first = First;
  using last = typename decltype((std::type_identity<First>{}, ..., std::type_identity<Rest>{}))::type;
};

// The declared domain of direction Dir of B: forward_domain() / inverse_domain(); for a
// chain, which declares none, that of the layer its input enters first (the first layer
// forward, the last inverse), through inverses (which swap the directions) and context
// bindings; else the real line.
template <direction Dir, class B>
constexpr interval<typename B::scalar_type> domain_of() {
  if constexpr (is_chain<B>::value) {
    using entered = std::conditional_t<Dir == direction::forward, typename chain_ends<B>::first,
                                       typename chain_ends<B>::last>;
    return domain_of<Dir, entered>();
  } else if constexpr (flowtmpl::detail::is_inverse_layer<B>::value) {
    return domain_of<opposite(Dir), typename B::base_type>();
  } else if constexpr (flowtmpl::detail::is_context_bound<B>::value) {
    return domain_of<Dir, std::remove_cvref_t<decltype(std::declval<const B&>().bijector)>>();
  } else if constexpr (flowtmpl::detail::is_embedded_context<B>::value) {
    return domain_of<Dir, typename B::inner_type>();
  } else if constexpr (Dir == direction::forward && requires { B::forward_domain(); }) {
    return B::forward_domain();
  } else if constexpr (Dir == direction::inverse && requires { B::inverse_domain(); }) {
    return B::inverse_domain();
  } else {
    return interval<typename B::scalar_type>::real_line();
  }
}

// dom cut to the closed range [r.lo, r.hi].
template <class S>
interval<S> cut(const interval<S>& dom, const sweep_range<S>& r) {
  interval<S> in = dom;
  if (r.lo > dom.lo) {
    in.lo = r.lo;
    in.lo_closed = true;
  }
  if (r.hi < dom.hi) {
    in.hi = r.hi;
    in.hi_closed = true;
  }
  return in;
}

template <class S>
bool is_empty(const interval<S>& in) {
  return !(in.lo < in.hi || (in.lo == in.hi && in.lo_closed && in.hi_closed));
}

template <class S>
bool same_value(S a, S b) {
  return a == b && std::signbit(a) == std::signbit(b);
}

// A point well inside `in` (not empty): 0 on the real line, the midpoint of a bounded
// interval, max(1, |end|) inside the end of a half-line.
template <class S>
S interior_point(const interval<S>& in) {
  const bool lo_finite = std::isfinite(double(in.lo)), hi_finite = std::isfinite(double(in.hi));
  if (lo_finite && hi_finite) return in.lo + (in.hi - in.lo) / S(2);
  if (lo_finite) return in.lo + std::max(S(1), std::abs(in.lo));
  if (hi_finite) return in.hi - std::max(S(1), std::abs(in.hi));
  return S(0);
}

// The default sweep's values inside `in` (see the top of this file), without repeats.
template <class S>
std::vector<S> sweep_values(const interval<S>& in) {
  using lim = std::numeric_limits<S>;
  const S large = sweep_large<S>();
  std::vector<S> c{S(0), -S(0)};
  for (S m : {lim::denorm_min(), lim::min(), lim::epsilon(), S(0.5), S(1), S(3), S(1e3), std::sqrt(large), large}) {
    c.push_back(m);
    c.push_back(-m);
  }
  const bool lo_finite = std::isfinite(double(in.lo)), hi_finite = std::isfinite(double(in.hi));
  if (lo_finite) {
    if (in.lo_closed) c.push_back(in.lo);
    c.push_back(std::nextafter(in.lo, lim::infinity()));
    c.push_back(in.lo + S(1e-3) * (hi_finite ? in.hi - in.lo : std::max(S(1), std::abs(in.lo))));
  }
  if (hi_finite) {
    if (in.hi_closed) c.push_back(in.hi);
    c.push_back(std::nextafter(in.hi, -lim::infinity()));
    c.push_back(in.hi - S(1e-3) * (lo_finite ? in.hi - in.lo : std::max(S(1), std::abs(in.hi))));
  }
  if (lo_finite && hi_finite) c.push_back(in.lo + (in.hi - in.lo) / S(2));
  std::vector<S> values;
  for (S v : c) {
    if (!in.contains(v)) continue;
    if (std::none_of(values.begin(), values.end(), [&](S w) { return same_value(v, w); })) values.push_back(v);
  }
  return values;
}

// One random value inside `in` (not empty; see the top of this file).
template <class S>
S sweep_random_value(const interval<S>& in, philox_stream& rng) {
  const double log_min = std::log(double(std::numeric_limits<S>::min()));
  const double log_large = std::log(double(sweep_large<S>()));
  auto magnitude = [&] { return S(std::exp(log_min + (log_large - log_min) * rng.uniform<double>())); };
  const bool lo_finite = std::isfinite(double(in.lo)), hi_finite = std::isfinite(double(in.hi));
  S v;
  if (lo_finite && hi_finite) {
    const S width = in.hi - in.lo;
    if (rng.uniform<double>() < 0.5) {
      v = in.lo + width * rng.uniform<S>();
    } else {
      const S d = width * S(std::pow(10.0, -7.0 * rng.uniform<double>()));
      v = rng.uniform<double>() < 0.5 ? in.lo + d : in.hi - d;
    }
  } else if (lo_finite) {
    v = in.lo + magnitude();
  } else if (hi_finite) {
    v = in.hi - magnitude();
  } else {
    v = rng.uniform<double>() < 0.5 ? magnitude() : -magnitude();
  }
  return in.contains(v) ? v : interior_point(in);
}

}  // namespace detail

// The default sweep's rows for dimension d over `in` (see the top of this file).
template <class S>
std::vector<std::vector<S>> sweep_rows(int d, const interval<S>& in, int random_rows, std::uint64_t seed,
                                       std::uint64_t stream) {
  std::vector<std::vector<S>> rows;
  if (detail::is_empty(in)) return rows;
  const std::vector<S> values = detail::sweep_values(in);
  for (S v : values) rows.push_back(std::vector<S>(std::size_t(d), v));
  if (d > 1) {
    for (auto& row : cycled_rows(d, values)) rows.push_back(std::move(row));
  }
  philox_stream rng(seed, stream);
  for (int r = 0; r < random_rows; ++r) {
    std::vector<S> row;
    for (int i = 0; i < d; ++i) row.push_back(detail::sweep_random_value(in, rng));
    rows.push_back(row);
  }
  return rows;
}

namespace detail {

// The sweep of direction Dir: the checks "sweep" (the range) and "finite.forward" or
// "finite.inverse" (each point).
template <direction Dir, Bijector B>
void check_sweep(const B& b, const options<typename B::scalar_type>& opt, report& rep) {
  using S = typename B::scalar_type;
  using V = vector_t<B>;
  using flowtmpl::detail::message;
  constexpr bool fwd = Dir == direction::forward;
  const char* dir = fwd ? "forward" : "inverse";
  const std::string check_name = fwd ? "finite.forward" : "finite.inverse";
  const std::string name = B::name;
  const interval<S> dom = domain_of<Dir, B>();
  const sweep_range<S>& range = fwd ? opt.forward_sweep_range : opt.inverse_sweep_range;
  const interval<S> in = cut(dom, range);
  const std::string narrowed = range.dropped() ? std::string("nothing (dropped)")
                                               : message("[", double(range.lo), ", ", double(range.hi), "]");
  rep.expect("sweep", !range.narrowed() || !range.reason.empty(),
             message(name, ": the ", dir, " sweep is narrowed to ", narrowed,
                     " without a reason (options::narrow_sweep and drop_sweep take one)"));
  if (!range.dropped())
    rep.expect("sweep", !is_empty(in),
               message(name, ": the ", dir, " sweep's range ", narrowed, " misses the domain ", dom.to_string()));
  // philox streams of their own (the kit's points use 0, check_gradients 1)
  const std::uint64_t stream = fwd ? 2 : 3;
  const auto rows = range.dropped() ? std::vector<std::vector<S>>{}
                                    : sweep_rows<S>(B::dim, in, opt.random_sweep_points, opt.seed, stream);
  const auto& given = fwd ? opt.sweep : opt.inverse_sweep;
  std::string covered = range.dropped() ? message(dir, " sweep: dropped (", range.reason, ")")
                                        : message(dir, " sweep: ", rows.size(), " points over ", in.to_string());
  if (range.narrowed() && !range.dropped())
    covered += message(" (the domain ", dom.to_string(), " narrowed: ", range.reason, ")");
  if (!given.empty()) covered += message(", and ", given.size(), " given points");
  rep.note(covered);
  if (rows.empty() && given.empty())
    rep.skip(check_name, message("no points: the default sweep is dropped (", range.reason, ") and none are given"));
  auto check = [&](const V& v) {
    const auto r = fwd ? flowtmpl::forward_and_log_det(b, v) : flowtmpl::inverse_and_log_det(b, v);
    rep.expect(check_name, r.value.allFinite() && std::isfinite(double(r.log_det)),
               message(name, " ", dir, " at ", show(v), " gives ", show(r.value), ", log-det ", double(r.log_det)));
  };
  auto to_vec = [](const std::vector<S>& row) {
    V v;
    for (int i = 0; i < B::dim; ++i) v[i] = row.at(std::size_t(i));
    return v;
  };
  for (const auto& row : rows) check(to_vec(row));
  for (const auto& row : given) check(to_vec(row));
}

}  // namespace detail

}  // namespace flowtmpl::testing
