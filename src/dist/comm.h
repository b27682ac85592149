#pragma once
// The process's place in a distributed run. Launched by `mpirun` or Slurm's
// `srun` (Open MPI's or PMI's environment variables say so), streamgauge joins
// MPI's world communicator; otherwise, or when built without MPI (SG_MPI=OFF),
// it is the only rank of a world of one and no MPI call is ever made.
//
// Data parallel (measure/run_prompts.h): every rank runs a contiguous share of
// the sequences; each reducer's state is then exchanged with allgather_bytes()
// and rebuilt in rank order, which is sequence order, so every rank holds what
// one process would have; only rank 0 prints and writes.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sg::dist {

// A send in flight (Comm::send_floats): wait() returns once the buffer may be
// reused; the destructor waits too.
class Request {
 public:
  Request();
  ~Request();
  Request(Request&&) noexcept;
  Request& operator=(Request&&) noexcept;
  void wait();

 private:
  friend class Comm;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Comm {
 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // Every rank's bytes, in rank order, on every rank.
  std::vector<std::vector<std::byte>> allgather_bytes(std::span<const std::byte> mine) const;
  // Every rank's bytes, in rank order, on rank 0 (other ranks get nothing back).
  std::vector<std::vector<std::byte>> gather_bytes(std::span<const std::byte> mine) const;
  // Waits for every rank.
  void barrier() const;
  // Point to point, between ranks of the world (the layer pipeline's
  // activations): `tag` tells messages between the same two ranks apart. The
  // send returns at once; the buffer must stay untouched until the request is
  // waited for. The receive blocks until `into` is filled; a message of another
  // size is an error.
  Request send_floats(int to, int tag, std::span<const float> data) const;
  void recv_floats(int from, int tag, std::span<float> into) const;
  // Ends every rank of the job with this exit code (MPI_Abort); a world of one
  // just exits.
  [[noreturn]] void abort(int code) const;

 private:
  friend const Comm& world();
  friend void init(int* argc, char*** argv);
  int rank_ = 0, size_ = 1;
};

// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun).
bool launched_by_mpi();
// Joins MPI's world when launched by an MPI launcher (call once, first thing in
// main); finalize() leaves it (also registered with atexit).
void init(int* argc, char*** argv);
void finalize();
// This process's world (a world of one before init() or without MPI, and
// inside a SoloScope).
const Comm& world();

// While one lives, world() is a world of one: a rank running a task of its
// own (a sweep's), with no other rank to share it with.
class SoloScope {
 public:
  SoloScope();
  ~SoloScope();
  SoloScope(const SoloScope&) = delete;
  SoloScope& operator=(const SoloScope&) = delete;
};
// The real world, whatever SoloScope says (a sweep's distribution of tasks).
const Comm& mpi_world();
// Whether this build can run distributed.
bool built_with_mpi();

// The layer pipeline (--pipeline, --pipeline-stages S): the world's ranks form
// replicas of S consecutive ranks, rank r being stage r % S of replica r / S.
// A replica runs its share of the sequences (by tokens, as data parallel does);
// its stage s holds only the layers of its part of the model (model/model.h
// Model::Stage) and passes the residual stream on to stage s + 1.
struct Pipeline {
  int stages = 1, replicas = 1;  // stages x replicas = the world's ranks
  int stage = 0, replica = 0;    // this rank's
  bool on() const { return stages > 1; }
  bool first_stage() const { return stage == 0; }
  bool last_stage() const { return stage == stages - 1; }
  int rank_of(int replica_index, int stage_index) const { return replica_index * stages + stage_index; }
};
// Sets this process's pipeline: `stages` must divide the world's ranks (throws
// sg::Error naming the option otherwise); 1 turns it off.
void set_pipeline_stages(int stages);
// This process's pipeline (none inside a SoloScope or when never set).
Pipeline pipeline();

}  // namespace sg::dist
