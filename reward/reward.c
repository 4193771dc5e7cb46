// reward.c: reward composition (see reward.h).
#include "reward.h"

#include <stdio.h>
#include <string.h>

RewardOpts reward_defaults(void) { return (RewardOpts){.correct_weight = 1.0}; }

int reward_parse_overlong(const char *s, RewardOpts *o, Err *e) {
    int a, b;
    char tail;
    if (sscanf(s, "%d:%d%c", &a, &b, &tail) != 2 || a <= 0 || b <= a)
        return err_set(e, "--overlong-penalty: expected START:END tokens with 0 < START < END, got '%s'", s);
    o->overlong_start = a, o->overlong_end = b;
    return 0;
}

Reward reward_compose(const RewardOpts *o, const VerifyResult *g, int n_tokens) {
    Reward r = {0};
    r.score = o->correct_weight * g->score;
    if (o->format_weight != 0 && g->extracted && g->extracted[0]) r.format = o->format_weight;
    if (o->overlong_end > 0 && n_tokens > o->overlong_start) {
        // DAPO: (L_max - L_cache - |y|) / L_cache between the two, -1 past the end.
        double span = (double)(o->overlong_end - o->overlong_start);
        r.length = n_tokens >= o->overlong_end ? -1.0 : -(double)(n_tokens - o->overlong_start) / span;
    }
    r.total = r.score + r.format + r.length;
    return r;
}
