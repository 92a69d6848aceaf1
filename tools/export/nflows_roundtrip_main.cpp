// tools/export/nflows_roundtrip_main.cpp: loads files that nflows_export.py wrote and
// evaluates the flows on given points, with a context per point for a conditional flow
// (for check_nflows_roundtrip.py).
//
// The flow types: FLOWTMPL_EXPORT_FLOWS, a comma-separated list of types (a -D macro, or
// else defined by the header "nflows_exported_flows.hpp" on the include path); flow k is
// the k-th of the list, so that one program serves many exported flows.
//
//   nflows_roundtrip_main --count         prints the number of flow types
//   nflows_roundtrip_main --spec k        prints spec_text of flow type k
//   nflows_roundtrip_main k model.safetensors x.bin z.bin n log_prob.bin samples.bin [context.bin]
//       x.bin, z.bin: n points each, float64 little-endian, point after point (numpy's
//       C order of an n x D array, Eigen's D x n column-major); context.bin (exactly for
//       a conditional flow): n contexts of C values, the same layout. Writes
//       log_prob(flow, x[, context]) (n values) and forward(flow.transform, z[, context])
//       (the samples of the noise z), as float64. Inputs are rounded to the flow's scalar
//       first.
#ifndef FLOWTMPL_EXPORT_FLOWS
#include "nflows_exported_flows.hpp"
#endif

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using Flows = std::tuple<FLOWTMPL_EXPORT_FLOWS>;
constexpr std::size_t n_flows = std::tuple_size_v<Flows>;

template <class F>
constexpr int context_dim_of() {
  if constexpr (requires { F::context_dim; })
    return int(F::context_dim);
  else
    return 0;
}

static Eigen::MatrixXd read_points(const std::string& path, Eigen::Index rows, Eigen::Index n) {
  Eigen::MatrixXd m(rows, n);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(m.data()), std::streamsize(sizeof(double) * rows * n));
  if (!in) {
    std::cerr << "nflows_roundtrip_main: cannot read " << n << " points of dimension " << rows << " from " << path
              << '\n';
    std::exit(2);
  }
  return m;
}

static void write_values(const std::string& path, const Eigen::MatrixXd& m) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(m.data()), std::streamsize(sizeof(double) * m.size()));
  if (!out) {
    std::cerr << "nflows_roundtrip_main: cannot write " << path << '\n';
    std::exit(2);
  }
}

template <class Exported>
int spec() {
  std::cout << flowtmpl::spec_text<Exported>() << '\n';
  return 0;
}

template <class Exported>
int evaluate(const std::vector<std::string>& args) {
  using S = typename Exported::scalar_type;
  constexpr int D = Exported::dim;
  constexpr int C = context_dim_of<Exported>();
  if (args.size() != std::size_t(C > 0 ? 8 : 7)) {
    std::cerr << "nflows_roundtrip_main: flow " << args[0] << " takes " << (C > 0 ? "a context file" : "no context")
              << '\n';
    return 2;
  }
  const Eigen::Index n = std::stol(args[4]);
  Exported flow;
  try {
    flowtmpl::load(flow, args[1]);
  } catch (const flowtmpl::io_error& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  const Eigen::Matrix<S, D, Eigen::Dynamic> x = read_points(args[2], D, n).cast<S>();
  const Eigen::Matrix<S, D, Eigen::Dynamic> z = read_points(args[3], D, n).cast<S>();
  if constexpr (C > 0) {
    const Eigen::Matrix<S, C, Eigen::Dynamic> c = read_points(args[7], C, n).cast<S>();
    const auto lp = flowtmpl::log_prob(flow, x, c);
    const auto samples = flowtmpl::forward(flow.transform, z, c);
    write_values(args[5], lp.template cast<double>());
    write_values(args[6], samples.template cast<double>());
  } else {
    const auto lp = flowtmpl::log_prob(flow, x);
    const auto samples = flowtmpl::forward(flow.transform, z);
    write_values(args[5], lp.template cast<double>());
    write_values(args[6], samples.template cast<double>());
  }
  return 0;
}

// f.template operator()<Flow k>() for the k-th type
template <class F>
int dispatch(std::size_t k, F&& f) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    int rc = 2;
    ((I == k ? (rc = f.template operator()<std::tuple_element_t<I, Flows>>(), true) : false) || ...);
    return rc;
  }(std::make_index_sequence<n_flows>{});
}

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--count") {
    std::cout << n_flows << '\n';
    return 0;
  }
  const bool spec_mode = args.size() == 2 && args[0] == "--spec";
  if (!spec_mode && args.size() != 7 && args.size() != 8) {
    std::cerr << "usage: nflows_roundtrip_main --count | --spec k | k model.safetensors x.bin z.bin n log_prob.bin "
                 "samples.bin [context.bin]\n";
    return 2;
  }
  const std::size_t k = std::stoul(spec_mode ? args[1] : args[0]);
  if (k >= n_flows) {
    std::cerr << "nflows_roundtrip_main: flow " << k << " of " << n_flows << '\n';
    return 2;
  }
  if (spec_mode) return dispatch(k, []<class T>() { return spec<T>(); });
  return dispatch(k, [&]<class T>() { return evaluate<T>(args); });
}
