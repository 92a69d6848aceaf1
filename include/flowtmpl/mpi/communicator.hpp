// flowtmpl/mpi/communicator.hpp: what the MPI entry points share (needs <mpi.h>: the
// flowtmpl::mpi target).
//   mpi::detail::datatype<T>()          the MPI datatype of float, double, std::int64_t,
//                                       std::uint64_t, char
//   mpi::detail::private_comm           a duplicate of the user's communicator for one
//                                       call (the library's messages never meet the
//                                       user's), freed at the end of the call. Refused
//                                       first, on the process that passes it
//                                       (argument_error): MPI_COMM_NULL (a process that
//                                       is not a member; the members' call goes on
//                                       without it) and an intercommunicator (every
//                                       process of both groups refuses it; merge the
//                                       groups with MPI_Intercomm_merge). A communicator
//                                       of which the process is a member has at least
//                                       one process: there is no empty one to refuse.
//   mpi::detail::collectively(c, f)     runs f on every process; if it throws on any
//                                       process, every process throws the same exception
//                                       (the one of the lowest such rank, of its type:
//                                       shape_error, argument_error, domain_error with
//                                       its fields, io_error, else std::runtime_error),
//                                       its message
//                                       prefixed "on rank r of R: ". A process that would
//                                       fail alone never leaves the others waiting in a
//                                       collective call.
//   mpi::detail::broadcast_parameters(c, f, root)   f's parameters from root to all
//   mpi::detail::same_everywhere(c, what, {{"name", value}, ...})   every process throws
//                                       shape_error when a process's value differs from
//                                       rank 0's (arguments that must be equal: counts,
//                                       seeds, options; a double by its bits)
// MPI errors themselves follow the communicator's error handler (MPI's default aborts
// the job with MPI's message).
#pragma once

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <mpi.h>

#include "../errors.hpp"
#include "../io/error.hpp"
#include "../parameters.hpp"

namespace flowtmpl::mpi {
namespace detail {

using flowtmpl::detail::message;

template <class T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, long long>)
    return MPI_LONG_LONG;
  else if constexpr (std::is_same_v<T, long>)
    return MPI_LONG;
  else {
    static_assert(std::is_same_v<T, char>, "flowtmpl::mpi: no MPI datatype for this type");
    return MPI_CHAR;
  }
}

// A duplicate of comm for the length of one call; checks that MPI is running.
class private_comm {
 public:
  private_comm(MPI_Comm user, const char* what) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down)
      flowtmpl::detail::fail_shape(message(what, ": MPI is not running (call MPI_Init before and MPI_Finalize after)"));
    if (user == MPI_COMM_NULL)
      flowtmpl::detail::fail_argument(
          message(what, ": the communicator is MPI_COMM_NULL (this process is not a member of the group it names)"));
    int inter = 0;
    MPI_Comm_test_inter(user, &inter);
    if (inter)
      flowtmpl::detail::fail_argument(message(what, ": the communicator is an intercommunicator; flowtmpl's calls take "
                                                    "an intracommunicator (MPI_Intercomm_merge makes one of it)"));
    MPI_Comm_dup(user, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  private_comm(const private_comm&) = delete;
  private_comm& operator=(const private_comm&) = delete;
  ~private_comm() { MPI_Comm_free(&comm_); }
  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

// What one process's failure was, to be rethrown on every process.
struct failure {
  enum kind_t : int { none = 0, shape = 1, domain = 2, io = 3, other = 4, argument = 5 };
  int kind = none;
  std::string what, layer;
  long sample = -1;
  int component = -1;
  double value = 0;
};

inline void broadcast_string(std::string& s, int root, MPI_Comm comm) {
  long long n = static_cast<long long>(s.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm);
  s.resize(std::size_t(n));
  if (n > 0) MPI_Bcast(s.data(), int(n), MPI_CHAR, root, comm);
}

// Every process: nothing when f succeeded everywhere; else the lowest failing rank's
// failure, thrown.
inline void agree(const private_comm& c, failure f) {
  int mine = f.kind == failure::none ? c.size() : c.rank(), first = 0;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c.get());
  if (first == c.size()) return;
  MPI_Bcast(&f.kind, 1, MPI_INT, first, c.get());
  broadcast_string(f.what, first, c.get());
  broadcast_string(f.layer, first, c.get());
  MPI_Bcast(&f.sample, 1, MPI_LONG, first, c.get());
  MPI_Bcast(&f.component, 1, MPI_INT, first, c.get());
  MPI_Bcast(&f.value, 1, MPI_DOUBLE, first, c.get());
  const std::string what = message("on rank ", first, " of ", c.size(), ": ", f.what);
  switch (f.kind) {
    case failure::shape:
      throw shape_error(what);
    case failure::argument:
      throw argument_error(what);
    case failure::domain:
      throw domain_error(what, f.layer, f.sample, f.component, f.value);
    case failure::io:
      throw io_error(what);
    default:
      throw std::runtime_error(what);
  }
}

// Runs f() on every process of c; see the top of this header.
template <class Fn>
void collectively(const private_comm& c, Fn&& f) {
  failure fl;
  try {
    f();
  } catch (const domain_error& e) {
    fl = {failure::domain, e.what(), e.layer, e.sample, e.component, e.value};
  } catch (const shape_error& e) {
    fl.kind = failure::shape;
    fl.what = e.what();
  } catch (const argument_error& e) {
    fl.kind = failure::argument;
    fl.what = e.what();
  } catch (const io_error& e) {
    fl.kind = failure::io;
    fl.what = e.what();
  } catch (const std::exception& e) {
    fl.kind = failure::other;
    fl.what = e.what();
  }
  agree(c, std::move(fl));
}

// The parameters of f on every process made those of root's f.
template <class F>
void broadcast_parameters(const private_comm& c, F& f, int root) {
  using S = typename F::scalar_type;
  constexpr std::size_t n = parameter_count_v<F>;
  if constexpr (n > 0) {
    std::vector<S> p(n);
    copy_parameters(f, p.data());
    MPI_Bcast(p.data(), int(n), datatype<S>(), root, c.get());
    assign_parameters(f, p.data());
  }
}

struct named_value {
  const char* name;
  std::uint64_t bits;  // an integer, or a double's bits
  bool is_double = false;
};
inline named_value as_named(const char* name, double v) { return {name, std::bit_cast<std::uint64_t>(v), true}; }
inline named_value as_named(const char* name, std::uint64_t v) { return {name, v, false}; }

inline void same_everywhere(const private_comm& c, const char* what, std::initializer_list<named_value> values) {
  std::vector<std::uint64_t> mine, root;
  for (const auto& v : values) mine.push_back(v.bits);
  root = mine;
  MPI_Bcast(root.data(), int(root.size()), MPI_UINT64_T, 0, c.get());
  collectively(c, [&] {
    std::size_t i = 0;
    for (const auto& v : values) {
      if (mine[i] != root[i]) {
        auto text = [&](std::uint64_t b) {
          return v.is_double ? message(std::bit_cast<double>(b)) : message(b);
        };
        flowtmpl::detail::fail_shape(message(what, ": ", v.name, " is ", text(mine[i]), " here and ", text(root[i]),
                                             " on rank 0; every process must pass the same"));
      }
      ++i;
    }
  });
}

// n as an MPI count, or a shape_error naming what
inline int count_of(long long n, const char* what) {
  if (n > std::numeric_limits<int>::max())
    flowtmpl::detail::fail_shape(message(what, ": one message would hold ", n, " values, more than MPI's int count allows"));
  return int(n);
}

}  // namespace detail
}  // namespace flowtmpl::mpi
