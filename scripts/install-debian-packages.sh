#!/usr/bin/env bash
# Debian packages the project uses outside the venv, installed only when missing (apt-get, as root or
# through sudo). Without them the project still runs: OCR is off (said once in the log) and the
# browser tests are skipped locally.
#   bash scripts/install-debian-packages.sh          # OCR and the browser
#   bash scripts/install-debian-packages.sh ocr      # Tesseract's rus/kaz/eng data and DejaVu Sans
#   bash scripts/install-debian-packages.sh browser  # Chromium for the review app's browser tests
set -euo pipefail
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
TESSDATA=/usr/share/tesseract-ocr/5/tessdata
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
wanted=()
case "${1:-all}" in
  ocr|all)
    # tesserocr's wheel (setup-venv.sh) brings the library; the language data and the demo's font are Debian's
    for lang in rus kaz eng; do
      [ -f "$TESSDATA/$lang.traineddata" ] || wanted+=("tesseract-ocr-$lang")
    done
    [ ${#wanted[@]} -eq 0 ] || wanted+=(tesseract-ocr)
    [ -f "$FONT" ] || wanted+=(fonts-dejavu-core)
    ;;&
  browser|all)
    # Playwright's own browser download needs a network the project does not assume
    [ -x /usr/bin/chromium ] || wanted+=(chromium)
    ;;
  ocr) ;;
  *) echo "usage: $0 [ocr|browser|all]" >&2; exit 2 ;;
esac
if [ ${#wanted[@]} -gt 0 ]; then
  echo "installing ${wanted[*]} ..." >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${wanted[@]}" >/dev/null
fi
