// `rampart data import`: published datasets to the dataset layout of DESIGN.md:
// /images uint8 [N, C, H, W] (chunks of about 64 KiB of rows, each with a checksum: row reads
// are one small chunk each), /labels uint8 [N] (int64 [N] above 256 classes, as for an ImageNet-1k
// folder), attrs classes (int), source (string) and, where the input names its classes,
// class_names (a JSON list of strings, index = label).
// Readers: IDX (import.cpp), CIFAR-10/100 binary (import_cifar.cpp), SVHN .mat (import_svhn.cpp),
// a folder of images per class (import_folder.cpp). Every output appears atomically (temporary
// file, fsync, rename): a failed import leaves no file under the real name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rampart {

// What one written file holds.
struct ImportSummary {
  int64_t n = 0, channels = 1, height = 0, width = 0;
  int classes = 0;
  std::string split;  // "train", "test", "val", "extra" or "data"; empty for IDX
  std::string path;   // the file written
  // Folder import only: files left out because their extension is not an image one (.txt, ...).
  int64_t skipped = 0;
  std::string first_skipped;
};

// Applied to every image after reading, for every format: a zero border of `pad` pixels on each
// side (28x28 -> 32x32 with pad 2, for networks built for CIFAR-sized inputs), and `channels` 3
// replicating a single grey channel (0: as stored). ConfigError for a pad outside [0, 1024] or
// channels other than 0, the stored count or 3 from 1.
struct ImageReshape {
  int pad = 0;
  int channels = 0;
};

// classes == 0: 10, or max label + 1 where a label is 10 or more. classes > 0:
// every label must be below it (DataError otherwise). Images and labels must
// agree on N.
ImportSummary import_idx(const std::string& images_path, const std::string& labels_path,
                         const std::string& out_path, const std::string& source_name, int classes = 0,
                         const ImageReshape& reshape = {});

// Options shared by the importers of several splits. Each split is written to
// <out_dir>/<split>.h5 (out_dir is created if missing); source_name, when not empty, becomes
// the source attribute as "<source_name> <split>" (default "<format> <split>: <input path>").
struct ImportOptions {
  std::string source_name;
  ImageReshape reshape;
};

// CIFAR-10, binary version: `dir` is cifar-10-batches-bin/ (or the folder holding it) with
// data_batch_1.bin .. data_batch_5.bin (-> train.h5) and test_batch.bin (-> test.h5), records of
// 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32x32 row-major). class_names
// come from batches.meta.txt where present. MissingInput naming a missing batch file; DataError
// for a size that is not a whole number of records, or a label >= 10.
std::vector<ImportSummary> import_cifar10(const std::string& dir, const std::string& out_dir,
                                          const ImportOptions& options = {});

// CIFAR-100, binary version: `dir` is cifar-100-binary/ (or the folder holding it) with train.bin
// and test.bin, records of 1 coarse-label byte + 1 fine-label byte + 3072 pixel bytes. Fine labels
// (100 classes) by default, coarse (20) with coarse = true; class_names from fine_label_names.txt
// or coarse_label_names.txt where present.
std::vector<ImportSummary> import_cifar100(const std::string& dir, const std::string& out_dir, bool coarse = false,
                                           const ImportOptions& options = {});

// SVHN, cropped digits: `dir` holds train_32x32.mat and test_32x32.mat (MAT-file level 5, as
// published; mat5.h), X uint8 [32, 32, 3, N] and y [N, 1] with labels 1..10, 10 for the digit
// 0: written as 0..9. extra_32x32.mat, where present, is written to extra.h5 (kSeparate),
// appended to train.h5 after the train images (kMerge), or left alone (kSkip). Images are
// streamed: the 1.3 GB extra set is never held in memory whole.
enum class SvhnExtra { kSeparate, kMerge, kSkip };
std::vector<ImportSummary> import_svhn(const std::string& dir, const std::string& out_dir,
                                       SvhnExtra extra = SvhnExtra::kSeparate, const ImportOptions& options = {});

// A folder of images per class, torchvision ImageFolder's layout: root/train/<class>/..., root/val/
// <class>/... and root/test/<class>/... (each present split -> <split>.h5), or root/<class>/...
// as one split (-> data.h5). Classes are the class folders sorted by name, label = position (the
// same list in every split); images are the .jpg/.jpeg/.png files (any case) under each class
// folder, subfolders included, in sorted order, decoded to RGB (image_decode.h). size > 0: the
// shorter side resized to `size`, then the centre size x size crop (image_resize.h); size == 0:
// every image must already have the size of the first. Up to kMaxClasses classes (dataset.h);
// labels are written as uint8 up to 256 classes, as int64 above (ImageNet-1k's 1000).
// threads > 0 sets the decoding threads (0: OpenMP's default); the output does not depend on it.
struct FolderOptions {
  int size = 0;
  int threads = 0;
};
std::vector<ImportSummary> import_folder(const std::string& root, const std::string& out_dir,
                                         const FolderOptions& folder = {}, const ImportOptions& options = {});

}  // namespace rampart
