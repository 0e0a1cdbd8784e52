// A folder of images per class (torchvision ImageFolder's layout) to one HDF5 file a split (see
// import.h). The files are listed and counted first (the writer needs N), then decoded in
// batches, in parallel (OpenMP), each image into its own slot: the output does not depend on
// the thread count, and only one batch of images is in memory at a time.
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "runtime/data/dataset.h"
#include "runtime/data/image_decode.h"
#include "runtime/data/image_resize.h"
#include "runtime/data/import.h"
#include "runtime/data/split_writer.h"
#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;

const char* kSplits[] = {"train", "val", "test"};

struct Listing {
  std::string dir;                   // the split's folder
  std::vector<std::string> classes;  // sorted folder names
  std::vector<std::string> files;    // in import order
  std::vector<int32_t> labels;
  int64_t skipped = 0;
  std::string first_skipped;
};

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& ch : e) ch = char(std::tolower((unsigned char)ch));
  return e;
}

// torchvision's other image extensions: it would import these, so they are refused, not skipped.
bool other_image_ext(const std::string& e) {
  return e == ".ppm" || e == ".bmp" || e == ".pgm" || e == ".tif" || e == ".tiff" || e == ".webp" || e == ".gif";
}

std::vector<std::string> subfolders(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().filename().string());
  if (ec) throw IoError(dir + ": cannot list the folder: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// One class folder's images: torchvision's order, sorted(os.walk(folder)) then sorted file
// names: files directly in the folder first, then each subfolder by its path.
void list_class(const std::string& class_dir, int32_t label, Listing& out) {
  std::map<std::string, std::vector<std::string>> by_dir;
  by_dir[class_dir];
  int64_t skipped = 0;
  std::string first_skipped;
  std::error_code ec;
  const auto opts = fs::directory_options::follow_directory_symlink;
  for (fs::recursive_directory_iterator it(class_dir, opts, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    const fs::path p = it->path();
    const std::string ext = lower_ext(p);
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
      by_dir[p.parent_path().string()].push_back(p.filename().string());
    } else if (other_image_ext(ext)) {
      throw DataError(p.string() + ": a " + ext.substr(1) + " image; only JPEG and PNG files are read (torchvision "
                      "would load this one, so it is not skipped): convert it to PNG, or move it out of " + class_dir);
    } else if (skipped++ == 0) {
      first_skipped = p.string();
    }
  }
  if (ec) throw IoError(class_dir + ": cannot list the folder: " + ec.message());
  if (skipped && out.skipped == 0) out.first_skipped = first_skipped;
  out.skipped += skipped;
  int64_t count = 0;
  for (auto& [dir, names] : by_dir) {
    std::sort(names.begin(), names.end());
    for (const auto& n : names) out.files.push_back((fs::path(dir) / n).string());
    count += int64_t(names.size());
  }
  out.labels.insert(out.labels.end(), size_t(count), label);
  if (count == 0)
    throw DataError(class_dir + ": an empty class folder: expected at least one .jpg, .jpeg or .png image in it (or "
                    "below it), found none" + (skipped ? "; files of other kinds, such as " + first_skipped +
                    ", are skipped" : std::string()) + ". Add images or remove the folder (every class folder is a "
                    "class, and labels are positions in the sorted list of them)");
}

Listing list_split(const std::string& dir) {
  Listing l;
  l.dir = dir;
  l.classes = subfolders(dir);
  if (l.classes.empty())
    throw DataError(dir + ": no class folders: expected " + dir + "/<class>/<images>, one folder a class (" +
                    "torchvision's ImageFolder layout)");
  if (int64_t(l.classes.size()) > kMaxClasses)
    throw DataError(dir + ": " + std::to_string(l.classes.size()) + " class folders; expected at most " +
                    std::to_string(kMaxClasses) + " classes (one folder a class): is --in the folder of class "
                    "folders? Import a subset (a folder of links to the classes you want)");
  for (size_t c = 0; c < l.classes.size(); ++c) list_class((fs::path(dir) / l.classes[c]).string(), int32_t(c), l);
  return l;
}

// The first image's shape is the shape of every image when there is no --size.
struct Shape3 {
  int64_t h = 0, w = 0;
  std::string from;
};

ImportSummary write_split(const Listing& l, const std::string& split, const std::string& out_dir,
                          const FolderOptions& folder, const ImportOptions& options, Shape3& shape) {
  const int64_t n = int64_t(l.files.size());
  if (folder.size == 0 && shape.h == 0) {
    const RgbImage first = decode_image_file(l.files[0]);
    shape = {first.height, first.width, l.files[0]};
  }
  const int64_t h = folder.size ? folder.size : shape.h, w = folder.size ? folder.size : shape.w;
  const int64_t image_bytes = 3 * h * w;
  const int64_t batch = std::clamp<int64_t>((int64_t(64) << 20) / image_bytes, 16, 1024);
  const std::string path = split_path(out_dir, split);
  ImportSummary summary;
  h5::write_atomically(path, [&](h5::File& h5file) {
    SplitWriter writer(h5file, n, 3, h, w, options.reshape);
    std::vector<uint8_t> images(size_t(std::min(batch, n) * image_bytes));
    struct Failure {
      ExitCode code = kExitOk;
      std::string what;
    };
    for (int64_t b = 0; b < n; b += batch) {
      const int64_t m = std::min(batch, n - b);
      std::vector<Failure> failed(static_cast<size_t>(m));
      const int threads = folder.threads > 0 ? folder.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (int64_t i = 0; i < m; ++i) {
        const std::string& file = l.files[size_t(b + i)];
        uint8_t* out = images.data() + i * image_bytes;
        try {
          const RgbImage img = decode_image_file(file);
          if (folder.size) {
            resize_crop(img.pixels.data(), img.height, img.width, folder.size, out);
          } else if (img.height != shape.h || img.width != shape.w) {
            throw DataError(file + ": " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                            " pixels (width x height), but the first image, " + shape.from + ", is " +
                            std::to_string(shape.w) + "x" + std::to_string(shape.h) + "; every image must have one "
                            "size: give --size S to resize them (shorter side to S, then the centre S x S crop)");
          } else {
            hwc_to_chw(img.pixels.data(), h, w, 3, out);
          }
        } catch (const Error& e) {
          failed[size_t(i)] = {e.code(), e.what()};
        } catch (const std::exception& e) {
          failed[size_t(i)] = {kExitFailure, file + ": " + e.what()};
        }
      }
      // The first failure in file order, whatever order the threads met them in.
      for (const auto& f : failed)
        if (f.code != kExitOk) throw_error(f.code, f.what);
      writer.add_images(m, images.data());
    }
    writer.add_labels(n, l.labels.data());
    summary = writer.finish(int(l.classes.size()), split_source(options, "folder", split, l.dir), l.classes);
  });
  summary.split = split;
  summary.path = path;
  summary.skipped = l.skipped;
  summary.first_skipped = l.first_skipped;
  return summary;
}

}  // namespace

std::vector<ImportSummary> import_folder(const std::string& root, const std::string& out_dir,
                                         const FolderOptions& folder, const ImportOptions& options) {
  std::error_code ec;
  if (!fs::exists(root, ec))
    throw MissingInput(root + ": no such folder (expected ROOT/train/<class>/<images> and ROOT/val/<class>/..., or "
                       "ROOT/<class>/<images>)");
  if (!fs::is_directory(root, ec))
    throw MissingInput(root + " is a file; expected a folder of class folders (ROOT/<class>/<images>), or of "
                       "train/ and val/ folders of them");
  if (folder.size < 0 || folder.size > 4096)
    throw ConfigError("--size must be an integer in [1, 4096] (0: no resize), found " + std::to_string(folder.size));
  check_reshape(options.reshape, 3, root);

  // Split folders, or one split of class folders.
  const std::vector<std::string> dirs = subfolders(root);
  std::vector<std::string> splits;
  for (const char* s : kSplits)
    if (std::find(dirs.begin(), dirs.end(), s) != dirs.end()) splits.push_back(s);
  std::vector<std::pair<std::string, Listing>> listings;
  if (splits.empty()) {
    listings.emplace_back("data", list_split(root));
  } else {
    for (const auto& d : dirs)
      if (std::find(splits.begin(), splits.end(), d) == splits.end())
        throw DataError(root + ": a folder '" + d + "' beside the split folders (" + splits.front() + "/...): " +
                        "expected only train, val and test in ROOT, each holding class folders; move '" + d +
                        "' away, or give --in " + (fs::path(root) / splits.front()).string() + " to import one split");
    for (const auto& s : splits) listings.emplace_back(s, list_split((fs::path(root) / s).string()));
    // Labels are positions in the class list: every split must have the same one.
    const auto& first = listings.front().second;
    for (const auto& [s, l] : listings) {
      if (l.classes == first.classes) continue;
      std::string diff;
      for (const auto& c : first.classes)
        if (!std::binary_search(l.classes.begin(), l.classes.end(), c)) { diff = "'" + c + "' is in " + first.dir +
                                                                          " but not in " + l.dir; break; }
      if (diff.empty())
        for (const auto& c : l.classes)
          if (!std::binary_search(first.classes.begin(), first.classes.end(), c)) { diff = "'" + c + "' is in " +
                                                                                     l.dir + " but not in " + first.dir; break; }
      throw DataError(l.dir + " has " + std::to_string(l.classes.size()) + " class folders and " + first.dir + " has " +
                      std::to_string(first.classes.size()) + ": " + diff + "; every split needs the same class "
                      "folders, since a label is the class's position in the sorted list");
    }
  }
  Shape3 shape;
  std::vector<ImportSummary> out;
  for (const auto& [split, listing] : listings)
    out.push_back(write_split(listing, split, out_dir, folder, options, shape));
  return out;
}

}  // namespace rampart
