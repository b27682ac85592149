#include "cli/common.h"

#include "hub/resolve.h"
#include "io/ids_file.h"
#include "util/error.h"

namespace sg::cli {

std::unique_ptr<Model> load_model(const std::string& arg) { return Model::load(hub::resolve_model(arg)); }

void IdsInput::add_options(CLI::App* cmd) {
  cmd->add_option("--ids", ids, "A sequence of token ids, comma-separated (repeat for several sequences)");
  cmd->add_option("--ids-file", ids_file,
                  "JSONL file, one sequence per line: a JSON array of ids or an object {\"ids\": [...]}");
}

std::vector<std::vector<int32_t>> IdsInput::sequences() const {
  std::vector<std::vector<int32_t>> out;
  for (auto& s : ids) out.push_back(parse_id_list(s));
  if (!ids_file.empty())
    for (auto& s : read_ids_file(ids_file)) out.push_back(std::move(s));
  return out;
}

}  // namespace sg::cli
