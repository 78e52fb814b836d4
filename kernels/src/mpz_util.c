/* Big-integer helpers on GMP: the pk_type and product reducer for mpz_t (so the
 * pool can create, combine and move big integers between ranks), and an exact
 * decimal digit count with the leading digits. The digit count avoids both a
 * full decimal conversion and a huge power of ten in the usual case: a short
 * floating estimate decides it, and only a borderline case pays for exactness. */
#include <stdlib.h>
#include <string.h>

#include "parkit/factorial.h"
#include "parkit/parkit.h"

/* ---- the mpz_t type and the product reducer ---- */

static int mpz_value_init(void *value, void *arg) {
    (void)arg;
    mpz_init_set_ui(value, 1); /* the identity of the product */
    return 0;
}

static void mpz_value_destroy(void *value, void *arg) {
    (void)arg;
    mpz_clear(value);
}

/* Wire format: the signed limb count as an int64, then the limbs (native order,
 * as ranks of one job share an architecture). */
static int mpz_value_pack(const void *value, void **buf, size_t *len, void *arg) {
    (void)arg;
    mpz_srcptr x = value;
    size_t n = mpz_size(x);
    int64_t head = mpz_sgn(x) < 0 ? -(int64_t)n : (int64_t)n;
    size_t bytes = sizeof head + n * sizeof(mp_limb_t);
    char *out = malloc(bytes);
    if (out == NULL)
        return PK_ENOMEM;
    memcpy(out, &head, sizeof head);
    if (n > 0)
        memcpy(out + sizeof head, mpz_limbs_read(x), n * sizeof(mp_limb_t));
    *buf = out;
    *len = bytes;
    return 0;
}

static int mpz_value_unpack(void *value, const void *buf, size_t len, void *arg) {
    (void)arg;
    int64_t head;
    if (len < sizeof head)
        return PK_EINVAL;
    memcpy(&head, buf, sizeof head);
    size_t n = (size_t)(head < 0 ? -head : head);
    if (len != sizeof head + n * sizeof(mp_limb_t))
        return PK_EINVAL;
    mpz_ptr x = value;
    if (n == 0) {
        mpz_set_ui(x, 0);
        return 0;
    }
    mp_limb_t *p = mpz_limbs_write(x, (mp_size_t)n);
    memcpy(p, (const char *)buf + sizeof head, n * sizeof(mp_limb_t));
    mpz_limbs_finish(x, (mp_size_t)head);
    return 0;
}

static int mpz_value_multiply(void *into, const void *from, void *arg) {
    (void)arg;
    mpz_ptr a = into;
    mpz_srcptr b = from;
    if (mpz_cmp_ui(a, 1) == 0)
        mpz_set(a, b); /* the first factor into an identity: a copy, not a product */
    else
        mpz_mul(a, a, b);
    return 0;
}

const pk_reducer pk_mpz_product = {
    .type =
        {
            .size = sizeof(mpz_t),
            .init = mpz_value_init,
            .destroy = mpz_value_destroy,
            .pack = mpz_value_pack,
            .unpack = mpz_value_unpack,
            .arg = NULL,
        },
    .combine = mpz_value_multiply,
    .heavy = 1,
};

/* ---- decimal digits ---- */

/* Leading decimal digits kept in the quotient below: at least this many, so that
 * small numbers take the exact path and the estimate has room. */
enum { LEAD_MIN = 24 };

/* t = floor(x / 10^m) exactly, x >= 0: floor(floor(x / 2^m) / 5^m) is the same
 * number, and 5^m is 30% shorter than 10^m. */
static void quotient_exact(mpz_t t, const mpz_t x, unsigned long m) {
    mpz_t p5;
    mpz_init(p5);
    mpz_ui_pow_ui(p5, 5, m);
    mpz_tdiv_q_2exp(t, x, m);
    mpz_tdiv_q(t, t, p5);
    mpz_clear(p5);
}

/* t = floor(x / 10^m) from a floating estimate with about `digits` + 58 digits of
 * precision; returns 0 when the estimate lies too close to an integer to be sure
 * of its floor (the caller then computes it exactly). */
static int quotient_estimate(mpz_t t, const mpz_t x, unsigned long m, size_t digits) {
    mp_bitcnt_t prec = (mp_bitcnt_t)(digits * 10 / 3 + 192);
    mpf_t xf, pf, frac, eps;
    mpf_init2(xf, prec);
    mpf_init2(pf, prec);
    mpf_init2(frac, prec);
    mpf_init2(eps, 64);
    mpf_set_z(xf, x); /* keeps only the top prec bits */
    mpf_set_ui(pf, 10);
    mpf_pow_ui(pf, pf, m);
    mpf_div(xf, xf, pf);
    mpf_floor(pf, xf);
    mpf_sub(frac, xf, pf);
    /* Each step rounds at 2^-prec, and the power multiplies the error of its base
     * by m (< 2^40), so the quotient (< 10^digits) is off by less than 2^-140; a
     * fractional part within 2^-64 of 0 or 1 could hide a different floor. */
    mpf_set_ui(eps, 1);
    mpf_div_2exp(eps, eps, 64);
    int sure = mpf_cmp(frac, eps) > 0;
    mpf_ui_sub(frac, 1, frac);
    sure = sure && mpf_cmp(frac, eps) > 0;
    if (sure)
        mpz_set_f(t, pf);
    mpf_clears(xf, pf, frac, eps, NULL);
    return sure;
}

static void copy_lead(char *lead, size_t nlead, const char *text) {
    if (lead == NULL || nlead == 0)
        return;
    size_t k = strlen(text);
    if (k > nlead - 1)
        k = nlead - 1;
    memcpy(lead, text, k);
    lead[k] = '\0';
}

int pk_mpz_digits(const mpz_t x, uint64_t *digits, char *lead, size_t nlead) {
    if (x == NULL)
        return PK_EINVAL;
    size_t want = nlead > 1 ? nlead - 1 : 1;
    size_t keep = want + 1 > LEAD_MIN ? want + 1 : LEAD_MIN;
    size_t d0 = mpz_sizeinbase(x, 10); /* exact or one too many */
    mpz_t ax, t;
    mpz_init(t);
    mpz_roinit_n(ax, mpz_limbs_read(x), (mp_size_t)mpz_size(x)); /* |x| without a copy */
    unsigned long m = d0 > keep ? (unsigned long)(d0 - keep) : 0;
    if (m == 0)
        mpz_set(t, ax);
    else if (!quotient_estimate(t, ax, m, keep))
        quotient_exact(t, ax, m);
    /* t has keep or keep - 1 >= want digits: its text gives the count and the lead. */
    char *text = mpz_get_str(NULL, 10, t);
    if (text == NULL) {
        mpz_clear(t);
        return PK_ENOMEM;
    }
    size_t tlen = strlen(text);
    if (digits != NULL)
        *digits = (uint64_t)m + tlen;
    copy_lead(lead, nlead, text);
    void (*release)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &release);
    release(text, tlen + 1);
    mpz_clear(t);
    return 0;
}
