/* cccd_gen.c - word lists and rules for generated card payloads.
 *
 * Why two sets of word lists. ZBar 0.23.92, unless told ZBAR_CFG_BINARY,
 * guesses the character set of byte-mode QR data (zbar/qrcode/qrdectxt.c):
 * it tries Shift-JIS first, then ISO-8859-1 (skipped when a byte is in
 * 0x80-0x9F), then Big5, then UTF-8 -- but moves Big5 to the front when every
 * byte >= 0x80 is followed by a Big5 trail byte (0x40-0x7E or 0xA1-0xFE).
 * Vietnamese UTF-8 often passes: "ạ" is E1 BA A1, and E1 BA, A1 + next letter
 * are both Big5 pairs. The *_B5 lists below hold only words that pass (found
 * by encoding payloads with libqrencode and reading them back with zbarimg
 * and libzbar in default mode), so a payload made of them always comes back
 * as Big5 CJK text, e.g.
 *   "Trần Phương Thảo" -> "Tr廕吵 Phng Th廕υ"  (ư, ơ become invisible U+F6C0, U+F6B1)
 *   "Lê Hữu Tùng"      -> "L礙 H廙真 T羅ng"
 *   "Nữ|"              -> "N廙砝"                 (the field separator is eaten)
 * Words that break it: "Thị", "Văn", "Nguyễn", anything with đ/Đ or ă, "à",
 * "Phường", "Hà Nội": bytes 0x80-0xA0 after a lead byte are no Big5 trail.
 * Payloads from the general lists mostly come back intact, some as Shift-JIS
 * ("Lê Văn Tùng" -> "Lﾃｪ Vﾄハ Tﾃｹng") or Latin-1 ("Hoàng" -> "HoÃ ng"). */
#include "cccd_gen.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Province codes of the ID number (Circular 07/2016): 001 Hà Nội ... 096 Cà Mau. */
static const int PROVINCES[] = { 1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25,
                                 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48,
                                 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75,
                                 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96 };

/* General lists; common surnames repeat to weight them as in the population. */
static const char *const SURNAMES[] = { "Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê",
                                        "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
                                        "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Đoàn" };
static const char *const MIDDLE_M[] = { "Văn", "Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Đình",
                                        "Thành", "Ngọc", "Trọng", "Xuân", "Hoàng", "Gia" };
static const char *const MIDDLE_F[] = { "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Mỹ",
                                        "Hồng", "Diệu", "Bích", "Phương", "Kim", "Thùy" };
static const char *const GIVEN_M[] = { "An",   "Anh",  "Bình", "Cường", "Dũng",  "Đạt",  "Đức",
                                       "Giang", "Hải", "Hiếu", "Hoàng", "Huy",   "Hùng", "Khoa",
                                       "Long", "Minh", "Nam",  "Nghĩa", "Phong", "Quang", "Sơn",
                                       "Thắng", "Toàn", "Trung", "Tuấn", "Việt" };
static const char *const GIVEN_F[] = { "Anh",  "Châu", "Dung",  "Giang", "Hà",    "Hạnh", "Hằng",
                                       "Hiền", "Hoa",  "Hương", "Lan",   "Linh",  "Loan", "Mai",
                                       "Nga",  "Ngọc", "Nhung", "Oanh",  "Phượng", "Quỳnh", "Thảo",
                                       "Thủy", "Trang", "Vân",  "Yến" };
/* '#' stands for a house, lane or hamlet number. */
static const char *const ADDRESSES[] = {
    "Số # ngõ # phố Hoàng Hoa Thám, Phường Ngọc Hà, Quận Ba Đình, Hà Nội",
    "Số # đường Nguyễn Trãi, Phường 3, Quận 5, Thành phố Hồ Chí Minh",
    "Tổ #, Phường Quang Trung, Thành phố Thái Nguyên, Thái Nguyên",
    "Thôn Cổ Điển, Xã Hải Bối, Huyện Đông Anh, Hà Nội",
    "Số # đường Trần Phú, Phường Lộc Thọ, Thành phố Nha Trang, Khánh Hòa",
    "Khu phố #, Phường Dĩ An, Thành phố Dĩ An, Bình Dương",
    "Xóm #, Xã Nghi Phong, Huyện Nghi Lộc, Nghệ An",
    "Số # kiệt # Lê Lợi, Phường Vĩnh Ninh, Thành phố Huế, Thừa Thiên Huế",
    "Tổ #, Phường Hòa Khánh Bắc, Quận Liên Chiểu, Đà Nẵng",
    "Số # Lạch Tray, Phường Đằng Giang, Quận Ngô Quyền, Hải Phòng",
    "Ấp Mỹ Hòa, Xã Mỹ Đức Tây, Huyện Cái Bè, Tiền Giang",
    "Thôn Đông, Xã Yên Thường, Huyện Gia Lâm, Hà Nội",
    "Số # Hùng Vương, Phường 9, Thành phố Tuy Hòa, Phú Yên",
    "Ấp #, Xã Phước Vĩnh An, Huyện Củ Chi, Thành phố Hồ Chí Minh",
    "Số # đường 30 Tháng 4, Phường Xuân Khánh, Quận Ninh Kiều, Cần Thơ",
    "Bản Nà Sản, Xã Chiềng Mung, Huyện Mai Sơn, Sơn La",
};

/* Big5-passing lists (see the top of this file). Verified as whole payloads
 * with either sex and either card type. */
static const char *const SURNAMES_B5[] = { "Trần", "Lê",    "Phạm", "Vũ",  "Võ",   "Bùi",  "Dương", "Lý",   "Trương",
                                           "Lương", "Tô",   "Ngô",  "Huỳnh", "Lâm", "Phan", "Cao",  "Quách" };
static const char *const MIDDLE_M_B5[] = { "Hữu", "Minh", "Tuấn", "Xuân", "Bảo",   "Tiến",
                                           "Hải", "Quang", "Khánh", "Tấn", "Thái", "Gia" };
static const char *const MIDDLE_F_B5[] = { "Phương", "Bảo", "Tú",    "Thủy",   "Xuân", "Hải",
                                           "Khánh",  "Kim", "Tuyết", "Thanh", "Cẩm" };
static const char *const GIVEN_M_B5[] = { "Tùng", "Khôi", "Lâm",  "Phát", "Sơn",  "Phúc", "Nam",
                                          "Hưng", "Dũng", "Vinh", "Khánh", "Nhật", "Bách", "Quân",
                                          "Huy",  "Long", "Khải", "Tuấn", "Lợi" };
static const char *const GIVEN_F_B5[] = { "Mai",  "Trâm", "Uyên", "Tiên", "Như",  "Ngân", "Linh", "Yến",
                                          "Quyên", "Thảo", "Lan", "Trang", "Vy", "Châu", "Hân",  "Tâm" };
static const char *const ADDRESSES_B5[] = {
    "Ấp Phú Lợi, Xã Tân Phú Thạnh, Cần Thơ",
    "Thôn Tây Sơn, Xã Xuân Lâm, Tĩnh Gia, Thanh Hóa",
    "Khu #, Xã Bảo Lý, Phú Bình, Thái Nguyên",
    "#/# hẻm # Lê Lợi, Quận Bình Thủy, Cần Thơ",
    "hẻm # Trần Phú, Khóm #, Bạc Liêu",
    "Ấp Bình An, Xã Long Hòa, Ba Tri, Bến Tre",
    "Thôn Yên Lâm, Xã Yên Phú, Yên Sơn, Tuyên Quang",
    "Ấp Tân Hưng, Xã Tân Phú, Tân Châu, Tây Ninh",
    "Thôn Phú Lâm, Xã Tiên Phong, Lục Yên, Yên Bái",
    "Ấp Thạnh Lợi, Xã Vĩnh Bình, Vĩnh Long",
    "Ấp Kiên Bình, Xã Kiên Lương, Kiên Giang",
    "Khu #, Xã Tân Lập, Lạng Sơn",
    "Thôn Bình Minh, Xã Khánh Phú, Yên Khánh, Ninh Bình",
    "Ấp Long Thạnh, Xã Long Khánh, Bạc Liêu",
    "Thôn Tân Sơn, Xã Phú Xuân, Quảng Bình",
    "Thôn Hải Yến, Xã Quảng Tân, Bắc Giang",
    "Ấp Tân Phú, Xã Tân Bình, Phú Tân, An Giang",
    "Thôn Xuân Lâm, Xã Quảng Phú, Quảng Xương, Thanh Hóa",
    "Ấp Bình Phú, Xã Long Bình, Tân Phú, Khánh Hòa",
    "Thôn Tân Yên, Xã Bình Yên, Thái Bình",
    "Ấp Lâm Thạnh, Xã Lâm Tân, Phú Lợi, Vĩnh Long",
};

/* ---- dates ---------------------------------------------------------------- */

struct ymd {
    int y, m, d;
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long days_from_civil(struct ymd t)
{
    int y = t.m <= 2 ? t.y - 1 : t.y;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (t.m + (t.m > 2 ? -3 : 9)) + 2) / 5 + t.d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static struct ymd civil_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    struct ymd t;
    t.d = (int)(doy - (153 * mp + 2) / 5 + 1);
    t.m = (int)(mp < 10 ? mp + 3 : mp - 9);
    t.y = (int)(yoe + era * 400 + (t.m <= 2 ? 1 : 0));
    return t;
}

/* A uniformly chosen real calendar date in [lo, hi]. */
static struct ymd random_date(struct rng *r, struct ymd lo, struct ymd hi)
{
    long a = days_from_civil(lo), b = days_from_civil(hi);
    return civil_from_days(a + (long)rng_int(r, 0, (int)(b - a)));
}

static struct ymd ymd_max(struct ymd a, struct ymd b)
{
    return days_from_civil(a) >= days_from_civil(b) ? a : b;
}

/* ---- fields ----------------------------------------------------------------- */

struct person {
    bool female;
    struct ymd birth, issue;
};

/* Birth and issue dates that a real card of this type can carry: 2021 chip
 * cards went to people aged 14 and over from 2021 until 30 June 2024; the
 * 2024 card since 1 July 2024, children included. */
static void random_dates(struct rng *r, enum cccd_gen_card card, struct person *p)
{
    struct ymd issue_lo, issue_hi;
    if (card == CCCD_GEN_2021) {
        p->birth = random_date(r, (struct ymd){ 1945, 1, 1 }, (struct ymd){ 2007, 12, 31 });
        /* From the 14th birthday (a 29 February birthday counts from 28
         * February, as the parser reads it). */
        int day = p->birth.m == 2 && p->birth.d == 29 ? 28 : p->birth.d;
        issue_lo = ymd_max((struct ymd){ 2021, 1, 1 }, (struct ymd){ p->birth.y + 14, p->birth.m, day });
        issue_hi = (struct ymd){ 2024, 6, 30 };
    } else {
        struct ymd hi = rng_chance(r, 0.15) ? (struct ymd){ 2023, 12, 31 } : (struct ymd){ 2007, 12, 31 };
        p->birth = random_date(r, (struct ymd){ 1945, 1, 1 }, hi);
        issue_lo = ymd_max((struct ymd){ 2024, 7, 1 }, p->birth);
        issue_hi = (struct ymd){ 2025, 12, 31 };
    }
    p->issue = random_date(r, issue_lo, issue_hi);
}

/* 12 digits: province, century and sex, two digits of the birth year, six random. */
static void format_id(struct rng *r, const struct person *p, char id[32])
{
    int province = PROVINCES[rng_int(r, 0, COUNT(PROVINCES) - 1)];
    int century_sex = (p->birth.y >= 2000 ? 2 : 0) + (p->female ? 1 : 0);
    snprintf(id, 32, "%03d%d%02d%06d", province, century_sex, p->birth.y % 100, rng_int(r, 0, 999999));
}

/* The 9-digit CMND of people old enough to have had one; empty otherwise. */
static void format_old_id(struct rng *r, const struct person *p, char old[16])
{
    old[0] = '\0';
    if (p->birth.y < 2006 && rng_chance(r, 0.55))
        snprintf(old, 16, "%09d", rng_int(r, 10000000, 389999999));
}

struct name_lists {
    const char *const *sur, *const *mid, *const *given;
    int nsur, nmid, ngiven;
};

static struct name_lists name_lists_for(enum cccd_gen_text text, bool female)
{
    struct name_lists L;
    if (text == CCCD_GEN_TEXT_BIG5) {
        L = (struct name_lists){ SURNAMES_B5, female ? MIDDLE_F_B5 : MIDDLE_M_B5, female ? GIVEN_F_B5 : GIVEN_M_B5,
                                 COUNT(SURNAMES_B5), female ? COUNT(MIDDLE_F_B5) : COUNT(MIDDLE_M_B5),
                                 female ? COUNT(GIVEN_F_B5) : COUNT(GIVEN_M_B5) };
    } else {
        L = (struct name_lists){ SURNAMES, female ? MIDDLE_F : MIDDLE_M, female ? GIVEN_F : GIVEN_M,
                                 COUNT(SURNAMES), female ? COUNT(MIDDLE_F) : COUNT(MIDDLE_M),
                                 female ? COUNT(GIVEN_F) : COUNT(GIVEN_M) };
    }
    return L;
}

/* Surname, one or two middle names, given name. */
static int format_name(struct rng *r, enum cccd_gen_text text, bool female, char *out, size_t outsize)
{
    struct name_lists L = name_lists_for(text, female);
    const char *mid2 = rng_chance(r, 0.25) ? rng_pick(r, L.mid, L.nmid) : NULL;
    const char *mid1 = rng_pick(r, L.mid, L.nmid);
    if (mid2 == mid1)
        mid2 = NULL;
    int n = snprintf(out, outsize, "%s %s%s%s %s", rng_pick(r, L.sur, L.nsur), mid1, mid2 ? " " : "",
                     mid2 ? mid2 : "", rng_pick(r, L.given, L.ngiven));
    return n < 0 || (size_t)n >= outsize ? -1 : n;
}

/* Copies a template, replacing each '#' by a number from 1 to 199. */
static int format_address(struct rng *r, enum cccd_gen_text text, char *out, size_t outsize)
{
    const char *t = text == CCCD_GEN_TEXT_BIG5 ? rng_pick(r, ADDRESSES_B5, COUNT(ADDRESSES_B5))
                                               : rng_pick(r, ADDRESSES, COUNT(ADDRESSES));
    size_t n = 0;
    for (; *t; t++) {
        char num[8];
        const char *piece = t;
        size_t len = 1;
        if (*t == '#') {
            len = (size_t)snprintf(num, sizeof(num), "%d", rng_int(r, 1, 199));
            piece = num;
        }
        if (n + len >= outsize)
            return -1;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return (int)n;
}

int cccd_gen_card(struct rng *r, enum cccd_gen_card card, enum cccd_gen_text text, char *out, size_t outsize)
{
    struct person p = { .female = rng_chance(r, 0.5) };
    random_dates(r, card, &p);
    char id[32], old[16], name[128], address[256];
    format_id(r, &p, id);
    format_old_id(r, &p, old);
    if (format_name(r, text, p.female, name, sizeof(name)) < 0 ||
        format_address(r, text, address, sizeof(address)) < 0)
        return -1;
    int n = snprintf(out, outsize, "%s|%s|%s|%02d%02d%04d|%s|%s|%02d%02d%04d%s", id, old, name, p.birth.d,
                     p.birth.m, p.birth.y, p.female ? "Nữ" : "Nam", address, p.issue.d, p.issue.m, p.issue.y,
                     card == CCCD_GEN_2024 ? "||||" : "");
    return n < 0 || (size_t)n >= outsize ? -1 : n;
}

/* ---- payloads that are not cards ------------------------------------------- */

static void random_chars(struct rng *r, const char *alphabet, char *out, int n)
{
    int k = (int)strlen(alphabet);
    for (int i = 0; i < n; i++)
        out[i] = alphabet[rng_int(r, 0, k - 1)];
    out[n] = '\0';
}

/* CRC-16/CCITT-FALSE, the checksum that ends an EMVCo (VietQR) payload. */
static unsigned crc16_ccitt(const char *s, size_t len)
{
    unsigned crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)s[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xFFFF : (crc << 1) & 0xFFFF;
    }
    return crc;
}

/* A VietQR transfer: EMVCo tag-length-value fields, CRC over all but itself. */
static int format_vietqr(struct rng *r, char *out, size_t outsize)
{
    char account[11], body[160];
    random_chars(r, "0123456789", account, 10);
    int n = snprintf(body, sizeof(body),
                     "00020101021138540010A00000072701240006970436"
                     "0110%s0208QRIBFTTA53037045405%05d5802VN62150811VIEN PHI KB6304",
                     account, rng_int(r, 10, 99) * 1000);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    n = snprintf(out, outsize, "%s%04X", body, crc16_ccitt(body, (size_t)n));
    return n < 0 || (size_t)n >= outsize ? -1 : n;
}

int cccd_gen_not_card(struct rng *r, char *out, size_t outsize)
{
    static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char ALNUM[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    char token[64];
    int n;
    switch (rng_int(r, 0, 4)) {
    case 0:
        random_chars(r, ALNUM, token, 10);
        n = snprintf(out, outsize, "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?ma=%s", token);
        break;
    case 1: /* The VNeID "verify the app" code has no public format: an opaque token. */
        random_chars(r, B64URL, token, 43);
        n = snprintf(out, outsize, "%s", token);
        break;
    case 2:
        return format_vietqr(r, out, outsize);
    case 3:
        random_chars(r, ALNUM, token, 12);
        n = snprintf(out, outsize, "WIFI:T:WPA;S:BenhVien-Khach;P:%s;;", token);
        break;
    default:
        n = snprintf(out, outsize, "Phòng khám Nội tổng hợp - Tầng %d, Khu %c. Lấy số thứ tự tại quầy %d.",
                     rng_int(r, 1, 5), "ABCD"[rng_int(r, 0, 3)], rng_int(r, 1, 9));
        break;
    }
    return n < 0 || (size_t)n >= outsize ? -1 : n;
}
