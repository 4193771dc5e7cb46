// data_langid.cc: the C face of CLD2 (C++): the top three languages of a
// UTF-8 text and the share of its letters each one holds. CLD2 keeps no
// state between calls, so this is safe from any thread. The text must be
// valid UTF-8 (the pipeline checks before this stage).
#include <stdio.h>  // before CLD2's header, which uses FILE without it
#include <string.h>

#include <cld2/public/compact_lang_det.h>

extern "C" {
#include "data/pipeline.h"
}

extern "C" int data_langid(const char *text, size_t n, DataLangGuess *g) {
    memset(g, 0, sizeof *g);
    CLD2::Language lang3[3];
    int percent3[3], text_bytes = 0;
    bool reliable = false;
    int len = n > 0x7FFFFFFF ? 0x7FFFFFFF : (int)n;
    CLD2::ExtDetectLanguageSummary(text, len, true, lang3, percent3, &text_bytes, &reliable);
    int k = 0;
    for (int i = 0; i < 3; i++) {
        if (lang3[i] == CLD2::UNKNOWN_LANGUAGE || percent3[i] <= 0) continue;
        strncpy(g->code[k], CLD2::LanguageCode(lang3[i]), sizeof g->code[k] - 1);
        g->share[k++] = percent3[i] / 100.0;
    }
    return k;
}
