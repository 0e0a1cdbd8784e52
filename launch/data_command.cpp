// rampart data import: IDX files (MNIST, Fashion-MNIST; gzip or not) to the HDF5 dataset layout.
#include <iostream>

#include "launch/commands.h"
#include "launch/options.h"
#include "runtime/data/import.h"
#include "runtime/errors.h"

namespace rampart {

int run_data(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "import")
    throw UsageError("data: expected the subcommand \"import\", found \"" + (args.empty() ? "" : args[0]) +
                     "\" (rampart data import --images I --labels L --out O)");
  po::options_description desc("rampart data import: convert IDX images and labels to an HDF5 dataset");
  desc.add_options()
      ("help,h", "this help")
      ("images", po::value<std::string>(), "IDX images file (uint8 [N, H, W]; .gz or not)")
      ("labels", po::value<std::string>(), "IDX labels file (uint8 [N])")
      ("out", po::value<std::string>(), "HDF5 file to write (/images [N,1,H,W], /labels [N])")
      ("source", po::value<std::string>()->default_value(""), "text for the 'source' attribute (default: the images path)")
      ("json", po::bool_switch(), "print the result as one JSON object");
  po::variables_map vm;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (!parse_options("data import", rest, desc, vm)) { std::cout << desc << "\n"; return 0; }
  for (auto n : {"images", "labels", "out"}) require(vm, "data import", n);
  std::string source = vm["source"].as<std::string>();
  if (source.empty()) source = vm["images"].as<std::string>();
  auto s = import_idx(vm["images"].as<std::string>(), vm["labels"].as<std::string>(), vm["out"].as<std::string>(),
                      source);
  if (vm["json"].as<bool>())
    std::cout << "{\"n\": " << s.n << ", \"channels\": " << s.channels << ", \"height\": " << s.height
              << ", \"width\": " << s.width << ", \"classes\": " << s.classes << ", \"out\": \""
              << vm["out"].as<std::string>() << "\"}\n";
  else
    std::cout << "wrote " << vm["out"].as<std::string>() << ": " << s.n << " images of " << s.channels << "x"
              << s.height << "x" << s.width << ", " << s.classes << " classes\n";
  return 0;
}

}  // namespace rampart
