// rampart data import: published datasets to the HDF5 dataset layout (runtime/data/import.h).
//   --format idx (default)  --images I --labels L --out FILE   IDX files (MNIST, Fashion-MNIST; gzip or not)
//   --format cifar10        --in DIR --out OUTDIR              cifar-10-batches-bin/ -> OUTDIR/train.h5, test.h5
//   --format cifar100       --in DIR --out OUTDIR [--labels fine|coarse]   cifar-100-binary/ -> train.h5, test.h5
//   --format svhn           --in DIR --out OUTDIR [--svhn-extra separate|merge|skip]
//                           train_32x32.mat, test_32x32.mat (, extra_32x32.mat) -> train.h5, test.h5 (, extra.h5)
//   --format folder         --in ROOT --out OUTDIR [--size S]  ROOT/{train,val,test}/<class>/*.jpg|png -> <split>.h5,
//                           or ROOT/<class>/... -> data.h5
// Every format: --pad P (zero border), --channels 3 (grey replicated), --source TEXT, --json.
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "launch/commands.h"
#include "launch/options.h"
#include "runtime/data/import.h"
#include "runtime/errors.h"

namespace rampart {

namespace {

void print_summaries(const std::string& format, const std::vector<ImportSummary>& all, bool json) {
  if (json) {
    nlohmann::json out = {{"format", format}, {"splits", nlohmann::json::array()}};
    for (const auto& s : all) {
      nlohmann::json j = {{"split", s.split}, {"out", s.path},        {"n", s.n},       {"channels", s.channels},
                          {"height", s.height}, {"width", s.width}, {"classes", s.classes}};
      if (s.skipped) j["skipped"] = s.skipped;
      out["splits"].push_back(j);
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  for (const auto& s : all) {
    std::cout << "wrote " << s.path << ": " << s.n << " images of " << s.channels << "x" << s.height << "x" << s.width
              << ", " << s.classes << " classes\n";
    if (s.skipped)
      std::cout << "  skipped " << s.skipped << " file" << (s.skipped == 1 ? "" : "s")
                << " that are not .jpg, .jpeg or .png (first: " << s.first_skipped << ")\n";
  }
}

}  // namespace

int run_data(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "import")
    throw UsageError("data: expected the subcommand \"import\", found \"" + (args.empty() ? "" : args[0]) +
                     "\" (rampart data import --images I --labels L --out O, or --format F --in DIR --out OUTDIR)");
  po::options_description desc(
      "rampart data import: convert a dataset to HDF5 (/images uint8 [N,C,H,W], /labels [N]: uint8, or int64 above "
      "256 classes)\n"
      "  IDX (MNIST, Fashion-MNIST):  --images I --labels L --out FILE\n"
      "  --format cifar10 | cifar100 | svhn | folder:  --in DIR --out OUTDIR (one OUTDIR/<split>.h5 a split)");
  desc.add_options()
      ("help,h", "this help")
      ("format", po::value<std::string>()->default_value("idx"), "idx, cifar10, cifar100, svhn or folder")
      ("images", po::value<std::string>(), "idx: IDX images file (uint8 [N, H, W]; .gz or not)")
      ("labels", po::value<std::string>(), "idx: IDX labels file (uint8 [N]); cifar100: fine (100 classes, the "
                                           "default) or coarse (20)")
      ("in", po::value<std::string>(), "cifar10: cifar-10-batches-bin/; cifar100: cifar-100-binary/ (or the folders "
                                       "holding them); svhn: the folder of train_32x32.mat and test_32x32.mat; "
                                       "folder: ROOT with train/, val/ (test/) of class folders, or class folders")
      ("out", po::value<std::string>(), "idx: the HDF5 file to write; other formats: a folder (created if missing) "
                                        "for train.h5, test.h5, ...")
      ("svhn-extra", po::value<std::string>()->default_value("separate"),
       "svhn: extra_32x32.mat, where present, to extra.h5 (separate), appended to train.h5 (merge), or left (skip)")
      ("size", po::value<int>()->default_value(0), "folder: resize the shorter side to S (area averaging when "
                                                   "shrinking, bilinear when enlarging), then crop the centre SxS; "
                                                   "0: every image must already share one size")
      ("threads", po::value<int>()->default_value(0), "folder: decoding threads (0: all cores); the output is the same")
      ("pad", po::value<int>()->default_value(0), "a zero border of P pixels on each side (28x28 -> 32x32 with 2)")
      ("channels", po::value<int>()->default_value(0), "3: replicate a grey channel into RGB (0: as stored)")
      ("source", po::value<std::string>()->default_value(""),
       "text for the 'source' attribute (default: the input path; with several splits, \"TEXT <split>\")")
      ("json", po::bool_switch(), "print the result as one JSON object");
  po::variables_map vm;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (!parse_options("data import", rest, desc, vm)) { std::cout << desc << "\n"; return 0; }
  const std::string format = vm["format"].as<std::string>();
  const std::vector<std::string> formats{"idx", "cifar10", "cifar100", "svhn", "folder"};
  if (std::find(formats.begin(), formats.end(), format) == formats.end())
    throw ConfigError("--format: expected idx, cifar10, cifar100, svhn or folder, found \"" + format + "\"");
  // Flags that belong to other formats are refused, not ignored.
  auto only_for = [&](const char* flag, const std::vector<std::string>& fmts, bool defaulted_ok) {
    if (!vm.count(flag) || (defaulted_ok && vm[flag].defaulted())) return;
    if (std::find(fmts.begin(), fmts.end(), format) != fmts.end()) return;
    std::string list;
    for (const auto& f : fmts) list += (list.empty() ? "" : " or ") + f;
    throw UsageError(std::string("data import: --") + flag + " is for --format " + list + ", not " + format +
                     " (see rampart data import --help)");
  };
  only_for("images", {"idx"}, false);
  only_for("in", {"cifar10", "cifar100", "svhn", "folder"}, false);
  only_for("labels", {"idx", "cifar100"}, false);
  only_for("svhn-extra", {"svhn"}, true);
  only_for("size", {"folder"}, true);
  only_for("threads", {"folder"}, true);
  require(vm, "data import", "out");
  const std::string out = vm["out"].as<std::string>();

  ImportOptions options;
  options.source_name = vm["source"].as<std::string>();
  options.reshape.pad = int(checked_int(vm, "pad", 0, 1024));
  options.reshape.channels = vm["channels"].as<int>();  // checked against the input's channels by the importer
  const bool json = vm["json"].as<bool>();

  if (format == "idx") {
    for (auto n : {"images", "labels"}) require(vm, "data import", n);
    std::string source = options.source_name;
    if (source.empty()) source = vm["images"].as<std::string>();
    auto s = import_idx(vm["images"].as<std::string>(), vm["labels"].as<std::string>(), out, source, 0,
                        options.reshape);
    if (json)
      std::cout << "{\"n\": " << s.n << ", \"channels\": " << s.channels << ", \"height\": " << s.height
                << ", \"width\": " << s.width << ", \"classes\": " << s.classes << ", \"out\": \"" << out << "\"}\n";
    else
      std::cout << "wrote " << out << ": " << s.n << " images of " << s.channels << "x" << s.height << "x" << s.width
                << ", " << s.classes << " classes\n";
    return 0;
  }

  require(vm, "data import", "in");
  const std::string in = vm["in"].as<std::string>();
  std::vector<ImportSummary> written;
  if (format == "cifar10") {
    written = import_cifar10(in, out, options);
  } else if (format == "cifar100") {
    const std::string labels = vm.count("labels") ? vm["labels"].as<std::string>() : "fine";
    if (labels != "fine" && labels != "coarse")
      throw ConfigError("--labels: expected fine (100 classes) or coarse (20 superclasses) for --format cifar100, "
                        "found \"" + labels + "\"");
    written = import_cifar100(in, out, labels == "coarse", options);
  } else if (format == "svhn") {
    const std::string extra = vm["svhn-extra"].as<std::string>();
    SvhnExtra mode;
    if (extra == "separate") mode = SvhnExtra::kSeparate;
    else if (extra == "merge") mode = SvhnExtra::kMerge;
    else if (extra == "skip") mode = SvhnExtra::kSkip;
    else throw ConfigError("--svhn-extra: expected separate, merge or skip, found \"" + extra + "\"");
    written = import_svhn(in, out, mode, options);
  } else {
    FolderOptions folder;
    folder.size = int(checked_int(vm, "size", 0, 4096));
    folder.threads = int(checked_int(vm, "threads", 0, kMaxThreads));
    written = import_folder(in, out, folder, options);
  }
  print_summaries(format, written, json);
  return 0;
}

}  // namespace rampart
