// Tests of flowtmpl/conditioners/made.hpp: MADE<h...> and ResidualMADE<h, blocks>.
//
// Everything here is derived from the header's documentation (which follows nflows's
// nflows.transforms.made), not from the code:
//   degrees   inputs 1..D; hidden unit u: u mod max(1, D-1) + min(1, D-1); output
//             i*M + j: i + 1. Hidden weight (o, i) allowed iff deg(o) >= deg(i), output
//             weight iff deg(o) > deg(i); context weights unmasked.
//   network   feedforward: h = act(W0 x + b0 [+ act(Wc c + bc)]), h = act(W h + b) per
//             further layer, out = Wf h + bf. Residual: t = W0 x + b0 [+ act(Wc c + bc)],
//             per block t += L1(act(L0(act(t)) + b [+ Wcb c + bcb])), out = Wf t + bf.
//   names     nflows's state_dict names; weights [out][in] row-major, then the bias.
// Checked: the masks after reset_parameters, validate()/apply_masks(), a reference
// forward pass, the autoregressive property (group k does not change at all when an
// input j >= k moves, and does change with the inputs j < k), the sequential pass
// (sequential_begin/step) against evaluate(), and evaluate_block against evaluate().
//
// The checks are ordinary functions over a small interface (made_ops), compiled once;
// each configuration instantiates only an adapter, that is, the library's own code.
// made_deep_test.cpp, made_residual_test.cpp and made_activations_test.cpp run more
// configurations through the same checks.
#include <flowtmpl/conditioners/made.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/made.hpp"

namespace flowtmpl_test {

double ref_relu(double v) { return v > 0 ? v : 0.0; }
double ref_tanh(double v) { return std::tanh(v); }
double ref_silu(double v) { return v / (1.0 + std::exp(-v)); }
double ref_elu(double v) { return v > 0 ? v : std::expm1(v); }

namespace {

// A linear map of the network as the documentation describes it.
enum kind { inputs = 0, hidden = 1, outputs = 2, context = 3 };
struct linear_desc {
  std::string name;
  int out, in;
  kind in_kind, out_kind;
};

std::vector<linear_desc> expected_linears(const net_desc& n, int D, int M, int C) {
  std::vector<linear_desc> ls;
  if (n.residual) {
    const int H = n.hidden[0];
    ls.push_back({"initial_layer", H, D, inputs, hidden});
    if (C > 0) ls.push_back({"context_layer", H, C, context, hidden});
    for (int b = 0; b < n.blocks; ++b) {
      const std::string p = "blocks." + std::to_string(b) + ".";
      ls.push_back({p + "linear_layers.0", H, H, hidden, hidden});
      if (C > 0) ls.push_back({p + "context_layer", H, C, context, hidden});
      ls.push_back({p + "linear_layers.1", H, H, hidden, hidden});
    }
    ls.push_back({"final_layer", D * M, H, hidden, outputs});
  } else {
    ls.push_back({"initial_layer", n.hidden[0], D, inputs, hidden});
    if (C > 0) ls.push_back({"context_layer", n.hidden[0], C, context, hidden});
    for (std::size_t l = 1; l < n.hidden.size(); ++l)
      ls.push_back({"blocks." + std::to_string(l - 1) + ".linear", n.hidden[l], n.hidden[l - 1], hidden, hidden});
    ls.push_back({"final_layer", D * M, n.hidden.back(), hidden, outputs});
  }
  return ls;
}

int degree(kind k, int unit, int D, int M) {
  switch (k) {
    case inputs:
      return unit + 1;
    case hidden:
      return unit % std::max(1, D - 1) + std::min(1, D - 1);
    case outputs:
      return unit / M + 1;
    default:
      return 0;
  }
}
bool allowed(const linear_desc& l, int o, int i, int D, int M) {
  if (l.in_kind == context) return true;
  const int dout = degree(l.out_kind, o, D, M), din = degree(l.in_kind, i, D, M);
  return l.out_kind == outputs ? dout > din : dout >= din;
}

using block_map = std::map<std::string, std::pair<double*, std::size_t>>;
block_map blocks_of(made_ops& net) {
  block_map m;
  net.for_each_block([&](const std::string& name, double* p, std::size_t n) { m[name] = {p, n}; });
  return m;
}

using vec = std::vector<double>;

// y = W x + b for the block `name` (W out x in, row-major)
vec linear(const block_map& m, const std::string& name, const vec& x, int out) {
  const double* w = m.at(name + ".weight").first;
  const double* b = m.at(name + ".bias").first;
  const int in = int(x.size());
  REQUIRE(m.at(name + ".weight").second == std::size_t(out) * std::size_t(in));
  vec y(static_cast<std::size_t>(out));
  for (int o = 0; o < out; ++o) {
    double acc = b[o];
    for (int i = 0; i < in; ++i) acc += w[std::size_t(o) * std::size_t(in) + std::size_t(i)] * x[std::size_t(i)];
    y[std::size_t(o)] = acc;
  }
  return y;
}
vec apply(double (*f)(double), vec v) {
  for (auto& e : v) e = f(e);
  return v;
}
vec add(vec a, const vec& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

vec reference_made(made_ops& net, const net_desc& n, const vec& x, const vec& c) {
  const block_map m = blocks_of(net);
  const int H0 = n.hidden[0];
  vec t = linear(m, "initial_layer", x, H0);
  if (!c.empty()) t = add(t, apply(n.act, linear(m, "context_layer", c, H0)));
  if (n.residual) {
    for (int b = 0; b < n.blocks; ++b) {
      const std::string p = "blocks." + std::to_string(b) + ".";
      vec v = linear(m, p + "linear_layers.0", apply(n.act, t), H0);
      if (!c.empty()) v = add(v, linear(m, p + "context_layer", c, H0));
      t = add(t, linear(m, p + "linear_layers.1", apply(n.act, v), H0));
    }
  } else {
    t = apply(n.act, t);
    for (std::size_t l = 1; l < n.hidden.size(); ++l)
      t = apply(n.act, linear(m, "blocks." + std::to_string(l - 1) + ".linear", t, n.hidden[l]));
  }
  return linear(m, "final_layer", t, net.D * net.M);
}

bool close(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

vec random_vec(int n, std::mt19937_64& gen, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  vec v(static_cast<std::size_t>(n));
  for (auto& e : v) e = u(gen);
  return v;
}

}  // namespace

void check_made_network(made_ops& net, const net_desc& desc) {
  const int D = net.D, M = net.M, C = net.C;
  INFO((desc.residual ? "ResidualMADE" : "MADE")
       << " (hidden " << desc.hidden[0] << "...), D = " << D << ", M = " << M << ", C = " << C);
  std::mt19937_64 gen(std::uint64_t(1000 * D + 100 * M + 10 * C + (desc.residual ? 7 : 3) + desc.hidden.size() +
                                    std::size_t(desc.hidden[0]) * 10000));
  std::uniform_real_distribution<double> u(-1.0, 1.0);

  const vec output_bias = random_vec(D * M, gen, 1.0);
  net.reset_uniform(gen(), output_bias.data());

  // ---- names, sizes, layout and masks ------------------------------------------------
  const auto expected = expected_linears(desc, D, M, C);
  {
    std::vector<std::string> names;
    std::vector<std::size_t> sizes;
    std::vector<const double*> ptrs;
    net.for_each_block([&](const std::string& name, double* p, std::size_t k) {
      names.push_back(name);
      sizes.push_back(k);
      ptrs.push_back(p);
    });
    REQUIRE(names.size() == 2 * expected.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CHECK(names[2 * i] == expected[i].name + ".weight");
      CHECK(names[2 * i + 1] == expected[i].name + ".bias");
      CHECK(sizes[2 * i] == std::size_t(expected[i].out) * std::size_t(expected[i].in));
      CHECK(sizes[2 * i + 1] == std::size_t(expected[i].out));
      CHECK(ptrs[2 * i + 1] == ptrs[2 * i] + sizes[2 * i]);  // the bias right after its weight
      total += sizes[2 * i] + sizes[2 * i + 1];
    }
    CHECK(ptrs.front() == net.values());
    CHECK(total == net.parameter_count());
    CHECK(total == net.value_count());
  }
  {
    const block_map m = blocks_of(net);
    for (const auto& l : expected) {
      const double* w = m.at(l.name + ".weight").first;
      const double* b = m.at(l.name + ".bias").first;
      const double bound = 1.0 / std::sqrt(double(l.in));
      int forbidden_nonzero = 0, allowed_zero = 0, out_of_bound = 0;
      for (int o = 0; o < l.out; ++o) {
        for (int i = 0; i < l.in; ++i) {
          const double v = w[std::size_t(o) * std::size_t(l.in) + std::size_t(i)];
          if (allowed(l, o, i, D, M)) {
            allowed_zero += v == 0.0;
            out_of_bound += std::abs(v) > bound;
          } else {
            forbidden_nonzero += v != 0.0;
          }
        }
        const double bv = l.out_kind == outputs ? b[o] - output_bias[std::size_t(o)] : b[o];
        out_of_bound += std::abs(bv) > bound * (1 + 1e-12);
      }
      INFO("layer " << l.name);
      CHECK(forbidden_nonzero == 0);
      CHECK(allowed_zero == 0);  // uniform draws: never exactly 0
      CHECK(out_of_bound == 0);
    }
  }
  CHECK(net.validate() == nullptr);

  auto eval = [&](const made_ops& n, const vec& x, const vec& c) {
    vec y(static_cast<std::size_t>(D * M));
    n.evaluate(x.data(), C > 0 ? c.data() : nullptr, y.data());
    return y;
  };

  // ---- reference forward pass; evaluate_block ------------------------------------------
  {
    // 75 columns: every part of the feedforward network's block kernel (dense_rows:
    // tiles of 4 SIMD vectors of samples, single vectors, single samples)
    const int N = 75;
    Eigen::MatrixXd X(D, N), Ctx(C, N);
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < D; ++i) X(i, j) = 2 * u(gen);
      for (int i = 0; i < C; ++i) Ctx(i, j) = 2 * u(gen);
    }
    const Eigen::MatrixXd Y = net.evaluate_block(X, Ctx);
    REQUIRE(Y.rows() == D * M);
    REQUIRE(Y.cols() == N);
    for (int j = 0; j < N; ++j) {
      const vec x(X.col(j).data(), X.col(j).data() + D);
      const vec c(Ctx.col(j).data(), Ctx.col(j).data() + C);
      const vec ref = reference_made(net, desc, x, c);
      const vec y = eval(net, x, c);
      for (int o = 0; o < D * M; ++o) {
        INFO("sample " << j << ", output " << o << ": evaluate " << y[std::size_t(o)] << ", reference "
                       << ref[std::size_t(o)] << ", evaluate_block " << Y(o, j));
        CHECK(close(y[std::size_t(o)], ref[std::size_t(o)]));
        CHECK(close(Y(o, j), y[std::size_t(o)]));
      }
    }
  }

  // ---- the autoregressive property ---------------------------------------------------
  // Twice: with the drawn parameters, and with a "lively" copy in which every hidden
  // layer's weights are scaled by 0.1 and its biases set to about 3 (context layers:
  // about 1), so that every relu unit of these small networks stays active and every
  // allowed path carries signal; then group k must depend on every input j < k. The
  // masks are untouched (0 times 0.1 is 0).
  std::unique_ptr<made_ops> lively = net.clone();
  {
    const block_map lm = blocks_of(*lively);
    for (const auto& l : expected) {
      if (l.out_kind != hidden) continue;
      double* w = lm.at(l.name + ".weight").first;
      double* b = lm.at(l.name + ".bias").first;
      for (std::size_t i = 0; i < std::size_t(l.out) * std::size_t(l.in); ++i) w[i] *= 0.1;
      for (int o = 0; o < l.out; ++o) b[o] = (l.in_kind == context ? 1.0 : 3.0) + 0.1 * u(gen);
    }
    CHECK(lively->validate() == nullptr);
  }
  const double* final_bias = blocks_of(net).at("final_layer.bias").first;
  for (int pass = 0; pass < 2; ++pass) {
    made_ops& n = pass == 0 ? net : *lively;
    std::vector<std::vector<int>> depends(std::size_t(D), std::vector<int>(std::size_t(D), 0));
    std::vector<int> depends_on_context(std::size_t(D), 0);
    int violations = 0;
    std::string first_violation;
    for (int trial = 0; trial < 16; ++trial) {
      const vec x = random_vec(D, gen, 2.0);
      const vec c = random_vec(C, gen, 2.0);
      const vec base = eval(n, x, c);
      for (int j = 0; j < D; ++j) {
        for (double step : {0.9, -1.7, 1e-3}) {
          vec xp = x;
          xp[std::size_t(j)] += step;
          const vec y = eval(n, xp, c);
          for (int k = 0; k < D; ++k) {
            bool same = true;
            for (int q = 0; q < M; ++q) same = same && y[std::size_t(k * M + q)] == base[std::size_t(k * M + q)];
            if (j >= k && !same) {
              if (violations++ == 0)
                first_violation = "output group " + std::to_string(k) + " changed when input " + std::to_string(j) +
                                  " moved by " + std::to_string(step);
            } else if (j < k && !same) {
              depends[std::size_t(k)][std::size_t(j)] = 1;
            }
          }
        }
      }
      for (int i = 0; i < C; ++i) {
        vec cp = c;
        cp[std::size_t(i)] += 0.8;
        const vec y = eval(n, x, cp);
        for (int k = 0; k < D; ++k)
          for (int q = 0; q < M; ++q)
            if (y[std::size_t(k * M + q)] != base[std::size_t(k * M + q)]) depends_on_context[std::size_t(k)] = 1;
      }
      // output group 0 has degree 1: for D >= 2 no hidden unit has a lower degree, so
      // the group is the final bias ("output 0 is constant")
      if (D >= 2 && pass == 0)
        for (int q = 0; q < M; ++q) CHECK(base[std::size_t(q)] == final_bias[q]);
    }
    INFO("pass " << pass << " (" << (pass == 0 ? "drawn parameters" : "lively copy") << "): " << first_violation);
    CHECK(violations == 0);
    // With the drawn parameters a relu unit may be dead at every trial point, so only
    // "some dependency" is required there; the lively copy must show each one.
    int any = 0;
    for (int k = 1; k < D; ++k)
      for (int j = 0; j < k; ++j) any += depends[std::size_t(k)][std::size_t(j)];
    if (D >= 2) CHECK(any > 0);
    if (pass == 1) {
      for (int k = 1; k < D; ++k)
        for (int j = 0; j < k; ++j) {
          INFO("output group " << k << " does not depend on input " << j);
          CHECK(depends[std::size_t(k)][std::size_t(j)] == 1);
        }
      if (C > 0) {
        // the context reaches every group that reads a hidden unit: all groups for D = 1,
        // groups k >= 1 otherwise (group 0 is the constant bias)
        for (int k = (D == 1 ? 0 : 1); k < D; ++k) {
          INFO("output group " << k << " does not read the context");
          CHECK(depends_on_context[std::size_t(k)] == 1);
        }
      }
    }
    if (C > 0 && D >= 2) CHECK(depends_on_context[0] == 0);
  }

  // ---- the sequential pass equals evaluate() ----------------------------------------
  for (int pass = 0; pass < 2; ++pass) {
    const made_ops& n = pass == 0 ? net : *lively;
    for (int trial = 0; trial < 5; ++trial) {
      const vec x = random_vec(D, gen, 2.0);
      const vec c = random_vec(C, gen, 2.0);
      const vec full = eval(n, x, c);
      vec seq(static_cast<std::size_t>(D * M), std::nan(""));
      n.sequential(x.data(), C > 0 ? c.data() : nullptr, seq.data());
      for (int o = 0; o < D * M; ++o) {
        INFO("sequential, pass " << pass << ", group " << o / M << ", parameter " << o % M << ": "
                                 << seq[std::size_t(o)] << " vs evaluate " << full[std::size_t(o)]);
        CHECK(close(seq[std::size_t(o)], full[std::size_t(o)]));
      }
    }
  }

  // ---- masks: validate() sees a forbidden non-zero weight, apply_masks() zeroes it ----
  const std::vector<double> drawn(net.values(), net.values() + net.value_count());
  for (const auto& l : expected) {
    if (l.in_kind == context) continue;
    int fo = -1, fi = -1;
    for (int o = 0; o < l.out && fo < 0; ++o)
      for (int i = 0; i < l.in; ++i)
        if (!allowed(l, o, i, D, M)) {
          fo = o;
          fi = i;
          break;
        }
    if (fo < 0) continue;  // nothing forbidden here (a hidden layer for D = 2)
    std::unique_ptr<made_ops> broken = net.clone();
    double* w = blocks_of(*broken).at(l.name + ".weight").first;
    double& entry = w[std::size_t(fo) * std::size_t(l.in) + std::size_t(fi)];
    entry = 0.5;
    INFO("forbidden weight (" << fo << ", " << fi << ") of " << l.name << " set to 0.5");
    const char* msg = broken->validate();
    REQUIRE(msg != nullptr);
    CHECK(std::string(msg).find("mask") != std::string::npos);
    broken->apply_masks();
    CHECK(entry == 0.0);
    CHECK(broken->validate() == nullptr);
    CHECK(std::vector<double>(broken->values(), broken->values() + broken->value_count()) == drawn);
  }
  // apply_masks() leaves the allowed weights alone
  net.apply_masks();
  CHECK(std::vector<double>(net.values(), net.values() + net.value_count()) == drawn);
}

}  // namespace flowtmpl_test

namespace made_test {

using namespace flowtmpl_test;

TEST_CASE("MADE<7, 5>: masks, reference, autoregressive property, sequential pass", "[conditioners][made]") {
  check_made_all<flowtmpl::MADE<7, 5>>({false, {7, 5}, 0, ref_relu});
}

TEST_CASE("ResidualMADE<5, 1>: masks, reference, autoregressive property, sequential pass", "[conditioners][made]") {
  check_made_all<flowtmpl::ResidualMADE<5, 1>>({true, {5}, 1, ref_relu});
}

}  // namespace made_test
