// Text extraction for the apps' Document widget (docs/apps.md): a plain-text, Markdown or PDF
// upload becomes the UTF-8 text that the widget's references stand for.
//
// Text and Markdown must already be UTF-8 (a byte order mark is dropped); PDFs are read by
// poppler's `pdftotext`, run as a child process with a time limit, an address-space and CPU
// limit, and a cap on what it may write, so that a PDF parser that crashes, loops or eats
// memory on a hostile file costs one child process, never the server.
//
// Thread-safety: the functions keep no state; any number may run at once (each PDF has its
// own private temporary directory and child process).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace basalt::apps {

struct DocumentOptions {
  std::string pdftotext = "pdftotext";  // a path, or a name looked up in PATH
  int64_t max_input_bytes = 5 << 20;    // larger uploads are refused (--max-document-size)
  int64_t max_output_chars = 200000;    // Unicode code points kept; the rest is cut off
  int timeout_ms = 10000;               // pdftotext is killed after this long
  int64_t memory_limit_bytes = int64_t{1} << 30;  // pdftotext's RLIMIT_AS
  int cpu_limit_seconds = 10;                     // pdftotext's RLIMIT_CPU
  std::string temp_dir;                           // "" = $TMPDIR or /tmp
};

struct ExtractedText {
  std::string text;        // UTF-8, at most max_output_chars code points
  int64_t chars = 0;       // code points in `text`
  bool truncated = false;  // the document had more text than max_output_chars
};

// The canonical media type of a Content-Type value ("Text/Markdown; charset=UTF-8" ->
// "text/markdown"): lower case, parameters dropped.
std::string CanonicalMediaType(std::string_view content_type);

// Extracts the text of a document of `media_type` ("text/plain", "text/markdown" or
// "application/pdf"; parameters such as charset are ignored).
// kInvalidArgument: an unsupported media type, input over max_input_bytes (the message names
// the limit), text that is not UTF-8 or holds NUL bytes, a file that is not a PDF, a PDF that
// pdftotext cannot read (damaged, encrypted, too slow, too big) or that has no text in it.
// kUnavailable: pdftotext cannot be run (not installed). kInternal: temporary files or the
// child process could not be set up.
StatusOr<ExtractedText> ExtractDocument(std::string_view media_type, std::string_view bytes,
                                        const DocumentOptions& options);

// ExtractDocument's text; when it was cut off, a last line says so, naming the limit.
StatusOr<std::string> ExtractDocumentText(std::string_view media_type, std::string_view bytes,
                                          const DocumentOptions& options);

}  // namespace basalt::apps
