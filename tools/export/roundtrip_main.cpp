// tools/export/roundtrip_main.cpp: loads a file that flowtmpl_export.py wrote and
// evaluates the flow on given points, with a context per point for a conditional flow
// (for check_roundtrip.py).
//
// The flow type is FLOWTMPL_EXPORT_FLOW: a -D macro, or else defined by the header
// "exported_flow.hpp" that check_roundtrip.py writes into a directory on the include path.
//
//   roundtrip_main --spec                  prints spec_text of the type
//   roundtrip_main --to-chars v...         prints each double as the spec text writes it
//   roundtrip_main model.safetensors x.bin z.bin n log_prob.bin samples.bin [context.bin]
//       x.bin, z.bin: n points each, float64 little-endian, point after point (numpy's
//       C order of an n x D array, Eigen's D x n column-major); context.bin (exactly for
//       a conditional flow): n contexts of C values, the same layout, context j for x_j
//       and z_j. Writes log_prob(flow, x[, context]) (n values) and
//       forward(flow.transform, z[, context]) (the samples of the noise z), as float64.
//       Inputs are rounded to the flow's scalar first.
#ifndef FLOWTMPL_EXPORT_FLOW
#include "exported_flow.hpp"
#endif

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using Exported = FLOWTMPL_EXPORT_FLOW;
using S = typename Exported::scalar_type;
constexpr int D = Exported::dim;

// C: the context's components, 0 for a flow that reads none
constexpr int C = [] {
  if constexpr (requires { Exported::context_dim; })
    return int(Exported::context_dim);
  else
    return 0;
}();

static Eigen::MatrixXd read_points(const std::string& path, Eigen::Index rows, Eigen::Index n) {
  Eigen::MatrixXd m(rows, n);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(m.data()), std::streamsize(sizeof(double) * rows * n));
  if (!in) {
    std::cerr << "roundtrip_main: cannot read " << n << " points of dimension " << rows << " from " << path << '\n';
    std::exit(2);
  }
  return m;
}

static void write_values(const std::string& path, const Eigen::MatrixXd& m) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(m.data()), std::streamsize(sizeof(double) * m.size()));
  if (!out) {
    std::cerr << "roundtrip_main: cannot write " << path << '\n';
    std::exit(2);
  }
}

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--spec") {
    std::cout << flowtmpl::spec_text<Exported>() << '\n';
    return 0;
  }
  if (!args.empty() && args[0] == "--to-chars") {
    for (std::size_t i = 1; i < args.size(); ++i) {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, std::strtod(args[i].c_str(), nullptr));
      std::cout << std::string(buf, r.ptr) << '\n';
    }
    return 0;
  }
  if (args.size() != std::size_t(C > 0 ? 7 : 6)) {
    std::cerr << "usage: roundtrip_main model.safetensors x.bin z.bin n log_prob.bin samples.bin"
              << (C > 0 ? " context.bin" : "") << " | --spec | --to-chars v...\n";
    return 2;
  }
  const Eigen::Index n = std::stol(args[3]);
  Exported flow;
  try {
    flowtmpl::load(flow, args[0]);
  } catch (const flowtmpl::io_error& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  const Eigen::Matrix<S, D, Eigen::Dynamic> x = read_points(args[1], D, n).cast<S>();
  const Eigen::Matrix<S, D, Eigen::Dynamic> z = read_points(args[2], D, n).cast<S>();
  if constexpr (C > 0) {
    const Eigen::Matrix<S, C, Eigen::Dynamic> c = read_points(args[6], C, n).cast<S>();
    const auto lp = flowtmpl::log_prob(flow, x, c);
    const auto samples = flowtmpl::forward(flow.transform, z, c);
    write_values(args[4], lp.template cast<double>());
    write_values(args[5], samples.template cast<double>());
  } else {
    const auto lp = flowtmpl::log_prob(flow, x);
    const auto samples = flowtmpl::forward(flow.transform, z);
    write_values(args[4], lp.template cast<double>());
    write_values(args[5], samples.template cast<double>());
  }
  return 0;
}
