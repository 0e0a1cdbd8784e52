// CIFAR-10 and CIFAR-100, the binary versions (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz),
// to one HDF5 file a split (see import.h). A record is the label byte(s) then 3072 pixel bytes,
// 1024 R, 1024 G, 1024 B, each plane 32x32 row-major: exactly [C, H, W], copied as it is.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/data/import.h"
#include "runtime/data/split_writer.h"
#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 3 * 32 * 32;

struct CifarSplit {
  std::string name;
  std::vector<std::string> files;
  int64_t records_per_file;  // as published, for messages
};

struct CifarFormat {
  std::string format;    // "cifar10"
  std::string title;     // "CIFAR-10"
  std::string folder;    // "cifar-10-batches-bin"
  std::string archive;   // "cifar-10-binary.tar.gz"
  int label_bytes;       // 1 or 2
  int label_at;          // which of them is imported
  const char* label_kind;  // "label", "fine label", "coarse label"
  int classes;
  std::string names_file;
  std::vector<CifarSplit> splits;
  int64_t record() const { return label_bytes + kPixels; }
};

CifarFormat cifar10() {
  return {"cifar10", "CIFAR-10", "cifar-10-batches-bin", "cifar-10-binary.tar.gz", 1, 0, "label", 10,
          "batches.meta.txt",
          {{"train",
            {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
            10000},
           {"test", {"test_batch.bin"}, 10000}}};
}

CifarFormat cifar100(bool coarse) {
  return {"cifar100", "CIFAR-100", "cifar-100-binary", "cifar-100-binary.tar.gz", 2, coarse ? 0 : 1,
          coarse ? "coarse label" : "fine label", coarse ? 20 : 100,
          coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
          {{"train", {"train.bin"}, 50000}, {"test", {"test.bin"}, 10000}}};
}

// The folder that holds the batch files: `dir` itself, or the archive's folder inside it.
std::string find_batches(const CifarFormat& f, const std::string& dir) {
  const std::string first = f.splits[0].files[0];
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw MissingInput(dir + ": no such folder (expected the " + f.title + " binary version: the " + f.folder +
                       "/ folder of " + f.archive + ")");
  if (!fs::is_directory(dir, ec))
    throw MissingInput(dir + " is a file; expected the folder " + f.folder + "/ of " + f.archive +
                       ", which holds " + first + " and the other batch files");
  if (fs::exists(fs::path(dir) / first, ec)) return dir;
  if (fs::exists(fs::path(dir) / f.folder / first, ec)) return (fs::path(dir) / f.folder).string();
  return dir;  // the missing file is named below, with the hints
}

int64_t checked_size(const CifarFormat& f, const CifarSplit& split, const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    std::string hint;
    const fs::path p(path);
    if (fs::exists(p.parent_path() / p.stem(), ec))  // cifar-10-batches-py/data_batch_1, cifar-100-python/train
      hint = "; found " + p.stem().string() + " without .bin: that is the Python (pickle) version, this reader "
             "needs the binary version, " + f.archive;
    throw MissingInput(path + ": no such file (expected the " + f.title + " " + split.name + " file " +
                       p.filename().string() + " of " + f.archive + ", extracted in " + f.folder + "/)" + hint);
  }
  if (!fs::is_regular_file(path, ec))
    throw MissingInput(path + " is not a regular file; expected the " + f.title + " batch file of that name");
  const int64_t size = int64_t(fs::file_size(path, ec));
  if (ec) throw MissingInput(path + ": cannot read its size: " + ec.message());
  const int64_t rec = f.record(), want = split.records_per_file * rec;
  if (size == 0 || size % rec != 0) {
    std::string msg = path + ": " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(rec) +
                      "-byte " + f.title + " records (" + (f.label_bytes == 2 ? "coarse and fine label bytes" :
                      "1 label byte") + " + 3072 pixel bytes): found " + std::to_string(size / rec) +
                      " records and " + std::to_string(size % rec) + " bytes more; expected " +
                      std::to_string(split.records_per_file) + " records = " + std::to_string(want) + " bytes";
    const int64_t other = f.label_bytes == 1 ? kPixels + 2 : kPixels + 1;
    if (size > 0 && size % other == 0)
      msg += " (it is a whole number of " + std::to_string(other) + "-byte records: a " +
             (f.label_bytes == 1 ? "CIFAR-100 file? use --format cifar100)" : "CIFAR-10 file? use --format cifar10)");
    else
      msg += " (truncated or damaged download? fetch " + f.archive + " again)";
    throw DataError(msg);
  }
  return size / rec;
}

std::vector<uint8_t> read_file(const std::string& path, int64_t size) {
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) throw MissingInput(path + ": cannot open: " + std::strerror(errno));
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), fp);
  const bool err = std::ferror(fp);
  std::fclose(fp);
  if (err || got != bytes.size())
    throw IoError(path + ": read " + std::to_string(got) + " of " + std::to_string(size) + " bytes" +
                  (err ? std::string(": ") + std::strerror(errno) : std::string(" (did the file shrink?)")));
  return bytes;
}

std::vector<ImportSummary> import_cifar(const CifarFormat& f, const std::string& dir_in, const std::string& out_dir,
                                        const ImportOptions& options) {
  check_reshape(options.reshape, 3, f.title);
  const std::string dir = find_batches(f, dir_in);
  // Every file is checked (present, whole records) before anything is written.
  std::vector<std::vector<int64_t>> counts;
  for (const auto& split : f.splits) {
    counts.emplace_back();
    for (const auto& file : split.files)
      counts.back().push_back(checked_size(f, split, (fs::path(dir) / file).string()));
  }
  const std::vector<std::string> names = read_class_names((fs::path(dir) / f.names_file).string(), f.classes);

  std::vector<ImportSummary> out;
  for (size_t s = 0; s < f.splits.size(); ++s) {
    const CifarSplit& split = f.splits[s];
    int64_t n = 0;
    for (int64_t c : counts[s]) n += c;
    const std::string path = split_path(out_dir, split.name);
    ImportSummary summary;
    h5::write_atomically(path, [&](h5::File& h5file) {
      SplitWriter w(h5file, n, 3, 32, 32, options.reshape);
      std::vector<uint8_t> pixels, labels;
      for (size_t k = 0; k < split.files.size(); ++k) {
        const std::string file = (fs::path(dir) / split.files[k]).string();
        const int64_t records = counts[s][k];
        const std::vector<uint8_t> bytes = read_file(file, records * f.record());
        pixels.resize(size_t(records * kPixels));
        labels.resize(size_t(records));
        for (int64_t r = 0; r < records; ++r) {
          const uint8_t* rec = bytes.data() + r * f.record();
          const uint8_t label = rec[f.label_at];
          if (label >= f.classes)
            throw DataError(file + ": record " + std::to_string(r) + " (byte offset " +
                            std::to_string(r * f.record()) + ") has " + f.label_kind + " " + std::to_string(label) +
                            "; expected " + f.label_kind + "s in [0, " + std::to_string(f.classes) +
                            ") (a damaged file, or not a " + f.title + " binary batch?)");
          labels[size_t(r)] = label;
          std::memcpy(pixels.data() + r * kPixels, rec + f.label_bytes, kPixels);
        }
        w.add_images(records, pixels.data());
        w.add_labels(records, labels.data());
      }
      summary = w.finish(f.classes, split_source(options, f.format, split.name, dir), names);
    });
    summary.split = split.name;
    summary.path = path;
    out.push_back(summary);
  }
  return out;
}

}  // namespace

std::vector<ImportSummary> import_cifar10(const std::string& dir, const std::string& out_dir,
                                          const ImportOptions& options) {
  return import_cifar(cifar10(), dir, out_dir, options);
}

std::vector<ImportSummary> import_cifar100(const std::string& dir, const std::string& out_dir, bool coarse,
                                           const ImportOptions& options) {
  return import_cifar(cifar100(coarse), dir, out_dir, options);
}

}  // namespace rampart
