#include "dist/comm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "util/error.h"

#ifdef SG_WITH_MPI
#include <mpi.h>
#endif

namespace sg::dist {
namespace {

Comm& the_world() {
  static Comm w;
  return w;
}

[[maybe_unused]] void check(int rc, const char* what) {
#ifdef SG_WITH_MPI
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, text, &n);
    fail("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(n)));
  }
#else
  (void)rc, (void)what;
#endif
}

}  // namespace

bool built_with_mpi() {
#ifdef SG_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  // Open MPI's mpirun, PMIx (Slurm srun --mpi=pmix, Open MPI 5), PMI-1/2 (srun, MPICH's mpiexec).
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

static int solo_depth = 0;  // SoloScopes alive

const Comm& world() {
  static const Comm one;
  return solo_depth > 0 ? one : the_world();
}

const Comm& mpi_world() { return the_world(); }

SoloScope::SoloScope() { ++solo_depth; }
SoloScope::~SoloScope() { --solo_depth; }

void init(int* argc, char*** argv) {
#ifdef SG_WITH_MPI
  if (!launched_by_mpi()) return;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  check(MPI_Init(argc, argv), "initialisation");
  // Errors come back as codes (check() turns them into sg::Error), never as
  // the default handler's abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Comm& w = the_world();
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size_);
  std::atexit(finalize);
#else
  (void)argc, (void)argv;
#endif
}

void finalize() {
#ifdef SG_WITH_MPI
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
#endif
}

std::vector<std::vector<std::byte>> Comm::allgather_bytes(std::span<const std::byte> mine) const {
  if (size_ == 1) return {std::vector<std::byte>(mine.begin(), mine.end())};
#ifdef SG_WITH_MPI
  // Sizes first, then the bytes in pieces below MPI's int counts.
  const auto n = static_cast<unsigned long long>(mine.size());
  std::vector<unsigned long long> sizes(static_cast<size_t>(size_));
  check(MPI_Allgather(&n, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD),
        "allgather of sizes");
  std::vector<std::vector<std::byte>> out(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) out[static_cast<size_t>(r)].resize(sizes[static_cast<size_t>(r)]);
  out[static_cast<size_t>(rank_)].assign(mine.begin(), mine.end());
  constexpr size_t kPiece = size_t{1} << 30;
  for (int r = 0; r < size_; ++r) {
    auto& part = out[static_cast<size_t>(r)];
    for (size_t off = 0; off < part.size(); off += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, part.size() - off));
      check(MPI_Bcast(part.data() + off, count, MPI_BYTE, r, MPI_COMM_WORLD), "broadcast");
    }
  }
  return out;
#else
  fail("internal: a distributed world without MPI");
#endif
}

std::vector<std::vector<std::byte>> Comm::gather_bytes(std::span<const std::byte> mine) const {
  if (size_ == 1) return {std::vector<std::byte>(mine.begin(), mine.end())};
#ifdef SG_WITH_MPI
  const auto n = static_cast<unsigned long long>(mine.size());
  std::vector<unsigned long long> sizes(static_cast<size_t>(size_));
  check(MPI_Gather(&n, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD),
        "gather of sizes");
  constexpr size_t kPiece = size_t{1} << 30;
  if (rank_ != 0) {
    for (size_t off = 0; off < mine.size(); off += kPiece)
      check(MPI_Send(mine.data() + off, static_cast<int>(std::min(kPiece, mine.size() - off)), MPI_BYTE, 0, 0,
                     MPI_COMM_WORLD),
            "send");
    return {};
  }
  std::vector<std::vector<std::byte>> out(static_cast<size_t>(size_));
  out[0].assign(mine.begin(), mine.end());
  for (int r = 1; r < size_; ++r) {
    auto& part = out[static_cast<size_t>(r)];
    part.resize(sizes[static_cast<size_t>(r)]);
    for (size_t off = 0; off < part.size(); off += kPiece)
      check(MPI_Recv(part.data() + off, static_cast<int>(std::min(kPiece, part.size() - off)), MPI_BYTE, r, 0,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE),
            "receive");
  }
  return out;
#else
  fail("internal: a distributed world without MPI");
#endif
}

void Comm::barrier() const {
#ifdef SG_WITH_MPI
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

struct Request::Impl {
#ifdef SG_WITH_MPI
  std::vector<MPI_Request> pieces;
#endif
};

Request::Request() : impl_(std::make_unique<Impl>()) {}
namespace {
// Waits for a request that is being dropped (a failed send surfaces at its receiver).
void settle(Request& r) noexcept {
  try {
    r.wait();
  } catch (const Error&) {
  }
}
}  // namespace

Request::~Request() { settle(*this); }
Request::Request(Request&&) noexcept = default;
Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    settle(*this);
    impl_ = std::move(other.impl_);
  }
  return *this;
}

void Request::wait() {
#ifdef SG_WITH_MPI
  if (!impl_ || impl_->pieces.empty()) return;
  auto pieces = std::move(impl_->pieces);
  impl_->pieces.clear();
  check(MPI_Waitall(static_cast<int>(pieces.size()), pieces.data(), MPI_STATUSES_IGNORE), "send");
#endif
}

#ifdef SG_WITH_MPI
namespace {
constexpr size_t kFloatPiece = size_t{1} << 28;  // floats per message piece (MPI counts are ints)
}
#endif

Request Comm::send_floats(int to, int tag, std::span<const float> data) const {
  Request req;
#ifdef SG_WITH_MPI
  if (size_ == 1) fail("internal: a send in a world of one");
  size_t off = 0;
  do {  // (an empty message is one empty piece)
    MPI_Request r;
    const size_t count = std::min(kFloatPiece, data.size() - off);
    check(MPI_Isend(data.data() + off, static_cast<int>(count), MPI_FLOAT, to, tag, MPI_COMM_WORLD, &r), "send");
    req.impl_->pieces.push_back(r);
    off += count;
  } while (off < data.size());
#else
  (void)to, (void)tag, (void)data;
  fail("internal: a distributed world without MPI");
#endif
  return req;
}

void Comm::recv_floats(int from, int tag, std::span<float> into) const {
#ifdef SG_WITH_MPI
  if (size_ == 1) fail("internal: a receive in a world of one");
  size_t off = 0;
  do {
    const int count = static_cast<int>(std::min(kFloatPiece, into.size() - off));
    MPI_Status status;
    check(MPI_Recv(into.data() + off, count, MPI_FLOAT, from, tag, MPI_COMM_WORLD, &status), "receive");
    int got = 0;
    MPI_Get_count(&status, MPI_FLOAT, &got);
    if (got != count) fail("internal: rank {} sent {} values where {} were expected", from, got, count);
    off += static_cast<size_t>(count);
  } while (off < into.size());
#else
  (void)from, (void)tag, (void)into;
  fail("internal: a distributed world without MPI");
#endif
}

static int pipeline_stages = 1;  // set_pipeline_stages

void set_pipeline_stages(int stages) {
  const int ranks = the_world().size();
  if (stages < 1) fail("--pipeline-stages: must be at least 1 (got {})", stages);
  if (ranks % stages != 0)
    fail("--pipeline-stages: {} stages need a multiple of {} MPI ranks (ranks = stages x replicas), not {}{}", stages,
         stages, ranks, ranks == 1 ? " (launch with mpirun or srun)" : "");
  pipeline_stages = stages;
}

Pipeline pipeline() {
  const Comm& w = world();
  if (pipeline_stages == 1 || !w.distributed()) return {};
  Pipeline p;
  p.stages = pipeline_stages;
  p.replicas = w.size() / pipeline_stages;
  p.stage = w.rank() % pipeline_stages;
  p.replica = w.rank() / pipeline_stages;
  return p;
}

void Comm::abort(int code) const {
#ifdef SG_WITH_MPI
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

}  // namespace sg::dist
