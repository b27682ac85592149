// Outputs never clobber what they point at (issue 13, item 5), end to end:
// capture --out into standard output, a FIFO and through a symlink; every
// command refuses a bad output or input path up front (exit 2, one line, the
// real reason) before the model is loaded or anything is computed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }
std::string cli() { return q(test::cli_path()); }
fs::path model() { return test::shared_dir() / "golden/models/neox_parallel"; }

// capture on the golden model; `out` is already quoted (or "-").
std::string capture(const std::string& out, const fs::path& m = model()) {
  return fmt::format("{} capture {} --ids 1,2,3 --out {}", cli(), q(m), out);
}

size_t entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}

// The error contract: exit 2, one line, naming what it must; never a stale errno.
void expect_error(const test::CommandResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output.rfind("streamgauge: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << "want: " << must_contain << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(r.output.find("Success"), std::string::npos) << r.output;
}

// A well-formed safetensors stream: length, JSON header, data to the last offset.
void expect_safetensors(const std::string& bytes) {
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  ASSERT_LE(8 + n, bytes.size());
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_TRUE(header.contains("seq0.input_ids"));
  EXPECT_EQ(header["__metadata__"]["producer"], "streamgauge capture");
  uint64_t end = 0;
  for (const auto& [name, t] : header.items())
    if (name != "__metadata__") end = std::max(end, t["data_offsets"][1].get<uint64_t>());
  EXPECT_EQ(bytes.size(), 8 + n + end);
}

TEST(OutputsCli, CaptureToStandardOutput) {
  const auto dir = test::scratch_dir("out_stdout");
  auto r = test::run_command(capture(q(dir / "a.safetensors")));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string file = read_file(dir / "a.safetensors");
  expect_safetensors(file);
  // stdout is the pipe run_command reads; the message goes to a file.
  r = test::run_command(fmt::format("( {} 2> {} )", capture("-"), q(dir / "err.txt")));
  ASSERT_EQ(r.status, 0) << read_file(dir / "err.txt");
  expect_safetensors(r.output);
  EXPECT_EQ(r.output, file);
  EXPECT_NE(read_file(dir / "err.txt").find("to standard output"), std::string::npos) << read_file(dir / "err.txt");
  EXPECT_FALSE(fs::exists("-"));
}

TEST(OutputsCli, CaptureIntoAFifo) {
  const auto dir = test::scratch_dir("out_fifo");
  auto r = test::run_command(capture(q(dir / "a.safetensors")));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0) << std::strerror(errno);
  test::FifoReader reader(dir / "pipe");
  r = test::run_command(capture(q(dir / "pipe")));
  const std::string got = reader.finish();
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(got, read_file(dir / "a.safetensors"));
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(dir / "pipe")));
  EXPECT_EQ(entries(dir), 2u);  // no temporary file beside the FIFO
}

TEST(OutputsCli, CaptureThroughASymlinkKeepsTheLink) {
  const auto dir = test::scratch_dir("out_link");
  fs::create_directories(dir / "store");
  write_file_atomic(dir / "store/acts.safetensors", "old");
  fs::create_symlink("store/acts.safetensors", dir / "acts.safetensors");
  auto r = test::run_command(capture(q(dir / "acts.safetensors")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_symlink(dir / "acts.safetensors"));
  EXPECT_EQ(fs::read_symlink(dir / "acts.safetensors"), "store/acts.safetensors");
  expect_safetensors(read_file(dir / "store/acts.safetensors"));
  EXPECT_EQ(entries(dir / "store"), 1u);
  EXPECT_EQ(entries(dir), 2u);
}

TEST(OutputsCli, CaptureRefusesABadOutputBeforeLoadingTheModel) {
  const auto dir = test::scratch_dir("out_bad_file");
  fs::create_directories(dir / "d");
  write_file_atomic(dir / "file", "keep");
  // A model that does not exist: the output is checked first, so its error wins.
  const auto no_model = dir / "no-model";
  expect_error(test::run_command(capture(q(dir / "d"), no_model)),
               fmt::format("--out: cannot write {}: {}", (dir / "d").string(), std::strerror(EISDIR)));
  expect_error(test::run_command(capture(q(dir / "missing/x.safetensors"), no_model)),
               fmt::format("cannot write {}: {}", (dir / "missing/x.safetensors").string(), std::strerror(ENOENT)));
  expect_error(test::run_command(capture(q(dir / "file/x.safetensors"), no_model)),
               fmt::format("cannot write {}: {}", (dir / "file/x.safetensors").string(), std::strerror(ENOTDIR)));
  // With the real model: the same, and nothing written anywhere.
  expect_error(test::run_command(capture(q(dir / "d"))), std::strerror(EISDIR));
  EXPECT_TRUE(fs::is_empty(dir / "d"));
  EXPECT_EQ(read_file(dir / "file"), "keep");
  EXPECT_EQ(entries(dir), 2u);
}

TEST(OutputsCli, OutputDirectoriesAreCheckedBeforeLoadingTheModel) {
  const auto dir = test::scratch_dir("out_bad_dir");
  const auto file = dir / "file";
  write_file_atomic(file, "keep");
  const std::string no_model = q(dir / "no-model");
  const std::string not_dir = fmt::format("--out: cannot write in {}: {}", file.string(), std::strerror(ENOTDIR));
  for (const std::string& args :
       {"gains " + no_model + " --no-figures", "weights " + no_model, "align " + no_model + " --save-deltas",
        "residual " + no_model, std::string("compare pythia-1.4b --no-figures")})
    expect_error(test::run_command(fmt::format("{} {} --out {}", cli(), args, q(file))), not_dir);
  // Below a regular file (ENOTDIR even for root), standard output, a directory in a file's place.
  expect_error(test::run_command(fmt::format("{} gains {} --out {}", cli(), no_model, q(file / "sub/deeper"))),
               fmt::format("--out: cannot write in {}: {}", (file / "sub/deeper").string(), std::strerror(ENOTDIR)));
  expect_error(test::run_command(fmt::format("{} weights {} --out -", cli(), no_model)),
               "--out -: an output directory cannot be standard output");
  fs::create_directories(dir / "out/report.html");
  expect_error(test::run_command(fmt::format("{} gains {} --out {}", cli(), no_model, q(dir / "out"))),
               fmt::format("cannot write {}: {}", (dir / "out/report.html").string(), std::strerror(EISDIR)));
  // pull: its cache is its output, checked before any download.
  expect_error(
      test::run_command(fmt::format("HF_ENDPOINT=http://127.0.0.1:9 {} pull Org/name --cache-dir {}", cli(), q(file))),
      fmt::format("--cache-dir: cannot write in {}: {}", file.string(), std::strerror(ENOTDIR)));
  EXPECT_EQ(read_file(file), "keep");
}

TEST(OutputsCli, MissingOutputDirectoryIsCreatedOnlyWhenTheOutputsAreWritten) {
  const auto dir = test::scratch_dir("out_create");
  write_file_atomic(dir / "ids.jsonl", "[1, 2, 3]\n[4, 5]\n");
  write_file_atomic(dir / "bad.jsonl", "[1, 2, 3]\n[4, x]\n");
  auto r = test::run_command(fmt::format("{} gains {} --ids-file {} --no-figures --no-weights --out {}", cli(),
                                         q(model()), q(dir / "ids.jsonl"), q(dir / "new/deeper")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_regular_file(dir / "new/deeper/gains.json"));
  // A run that fails leaves no empty directory behind.
  r = test::run_command(fmt::format("{} gains {} --ids-file {} --no-figures --no-weights --out {}", cli(), q(model()),
                                    q(dir / "bad.jsonl"), q(dir / "never")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir / "never"));
}

TEST(OutputsCli, BadReferenceIsRefusedBeforeTheRun) {
  const auto dir = test::scratch_dir("out_reference");
  write_file_atomic(dir / "ids.jsonl", "[1, 2, 3]\n[4, 5]\n");
  write_file_atomic(dir / "broken.json", "{\"model\": ");
  fs::create_directories(dir / "a-directory");
  const auto gains = [&](const fs::path& reference) {
    return test::run_command(fmt::format("{} gains {} --ids-file {} --no-figures --reference {} --out {}", cli(),
                                         q(model()), q(dir / "ids.jsonl"), q(reference), q(dir / "out")));
  };
  expect_error(gains(dir / "nope.json"),
               fmt::format("--reference: {}: no such file, and not a preset", (dir / "nope.json").string()));
  expect_error(gains(dir / "a-directory"),
               fmt::format("--reference: cannot read {}: {}", (dir / "a-directory").string(), std::strerror(EISDIR)));
  const auto r = gains(dir / "broken.json");
  expect_error(r, (dir / "broken.json").string());
  // Refused before the run: no table printed, nothing written.
  EXPECT_EQ(r.output.find("Hypothesis"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
  // A good reference still works.
  const auto ok = gains("pythia-1.4b");
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("CROSS-MODEL COMPARISON"), std::string::npos) << ok.output;
}

TEST(OutputsCli, BadInputFilesAreRefusedBeforeLoadingTheModel) {
  const auto dir = test::scratch_dir("out_inputs");
  fs::create_directories(dir / "a-directory");
  const std::string no_model = q(dir / "no-model");
  const auto missing = dir / "missing.jsonl";
  const std::string enoent = std::strerror(ENOENT);
  auto run = [&](const std::string& args) { return test::run_command(cli() + " " + args); };
  expect_error(run(fmt::format("gains {} --prompts {}", no_model, q(dir / "a-directory"))),
               fmt::format("--prompts: cannot read {}: {}", (dir / "a-directory").string(), std::strerror(EISDIR)));
  expect_error(run(fmt::format("gains {} --ids-file {}", no_model, q(missing))),
               fmt::format("--ids-file: cannot read {}: {}", missing.string(), enoent));
  expect_error(run(fmt::format("residual {} --ids-file {} --out {}", no_model, q(missing), q(dir / "out"))),
               fmt::format("--ids-file: cannot read {}: {}", missing.string(), enoent));
  expect_error(run(fmt::format("align {} --pairs {} --out {}", no_model, q(missing), q(dir / "out"))),
               fmt::format("--pairs: cannot read {}: {}", missing.string(), enoent));
  expect_error(run(fmt::format("compare {} --out {}", q(dir / "a-directory"), q(dir / "out"))),
               fmt::format("cannot read {}: {}", (dir / "a-directory").string(), std::strerror(EISDIR)));
  expect_error(run(fmt::format("capture {} --ids-file {} --out {}", no_model, q(missing), q(dir / "x.st"))),
               missing.string());
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace sg
