#pragma once
// Paths given by a user: up-front checks of inputs and outputs, made before
// anything is loaded or computed, and how a directory is shown in messages.
#include <filesystem>
#include <string>
#include <vector>

namespace sg {

// A directory as printed in messages: no trailing separator.
std::string display_dir(const std::filesystem::path& dir);

// Up-front checks of the paths a command is given, made before any model is
// loaded or anything computed, so a bad path costs nothing. Each throws
// sg::Error (exit code 2) naming the option, the path and the reason (the
// strerror() of the call that failed). `option` is the option's name
// ("--out") or what the path is ("the default output directory").
//
// An output file, e.g. capture --out FILE: "-" is standard output; what
// happens to a regular file, a symlink, a FIFO or a device: util/atomic_file.h.
void check_output_file(const std::string& option, const std::filesystem::path& path);
// An output directory (--out DIR): an existing directory we may write in, or a
// missing one whose nearest existing ancestor is a directory we may write in;
// never "-", an existing non-directory or a dangling link. Nothing is created:
// create_output_dir() makes it when the outputs are written, so a run that
// fails leaves no empty directory behind. `files`: the names the command will
// write in it; those that exist already must be writable outputs (not a
// directory, ...).
void check_output_dir(const std::string& option, const std::filesystem::path& dir,
                      const std::vector<std::string>& files = {});
// Creates the output directory (and its parents) if missing.
void create_output_dir(const std::filesystem::path& dir);
// An input file: exists, is not a directory, may be read. Nothing is opened, so
// a FIFO keeps its data for the real read.
void check_input_file(const std::string& option, const std::filesystem::path& path);

}  // namespace sg
