// flowtmpl/mpi.hpp: flowtmpl over MPI, for programs that run on many processes (the
// flowtmpl::mpi CMake target: MPI's C interface, found with find_package(MPI); not
// included by flowtmpl.hpp, and nothing else in the library needs MPI). docs/mpi.md
// shows it in use.
//   mpi::fit(comm, flow, train, [valid,] options)   data-parallel training, bitwise the
//                                                   run of fit on one process
//                                                   (mpi/fit.hpp)
//   mpi::sample, mpi::sample_and_log_prob            this process's part of one draw
//   mpi::log_prob, mpi::mean_log_prob                of a data set spread over the
//                                                   processes (mpi/sampling.hpp)
//   mpi::sample_range(n, size, rank)                which samples a process draws
// Every one is collective over comm: all its processes call it with the same flow and
// arguments, each with its own shard of the data.
// Parts: mpi/communicator.hpp (the communicator of a call, errors agreed by all
// processes), mpi/distributed_data.hpp (shards and the column exchange),
// mpi/ordered_sum.hpp (the rank-order sum), mpi/sampling.hpp, mpi/fit.hpp.
#pragma once

#include "mpi/communicator.hpp"
#include "mpi/distributed_data.hpp"
#include "mpi/fit.hpp"
#include "mpi/ordered_sum.hpp"
#include "mpi/sampling.hpp"
