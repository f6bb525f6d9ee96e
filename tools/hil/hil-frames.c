/* hil-frames.c - the desk pictures the HIL scenarios need beyond make_frames --samples.
 *
 *   hil-frames OUTDIR
 *
 * make_frames --samples draws accepted cards, a non-card code and an empty
 * desk, but no card the program must reject. This draws, with the same
 * renderer (tools/common/card_render.c), a clean VGA frame of a 2021 chip
 * card whose QR holds a well-formed payload that fails verification:
 *
 *   OUTDIR/rejected-card.png   birth date 29 Feb 2001 (not a leap year)
 *
 * The reason does not depend on today's date, so the frame stays "rejected"
 * for good. Runs on the build host (tests/hil/run.sh).
 */
#include <stdio.h>
#include <string.h>

#include "card_render.h"
#include "base/image_io.h"
#include "imgops.h"
#include "rng.h"

#define REJECTED_PAYLOAD "001201012345||Lê Minh Đức|29022001|Nam|Số 8 phố Hàng Bài, Hoàn Kiếm, Hà Nội|15062021"

static int render(const char *path, const char *payload, uint64_t seed)
{
    char err[512];
    struct rng r;
    rng_seed(&r, seed);
    struct gray_image frame = { 0 };
    if (gray_image_alloc(&frame, 640, 480, 0) != IMAGE_OK) {
        fprintf(stderr, "hil-frames: out of memory\n");
        return -1;
    }
    desk_render(&frame, &r);
    struct qr_matrix qr = { 0 };
    if (qr_matrix_encode((const uint8_t *)payload, strlen(payload), &qr, err, sizeof(err)) != 0) {
        fprintf(stderr, "hil-frames: %s\n", err);
        gray_image_free(&frame);
        return -1;
    }
    struct card_texture tex;
    int rc = card_texture_render(&tex, CARD_LOOK_2021, CARD_CODE_QR, &qr, 8, &r);
    qr_matrix_free(&qr);
    if (rc != 0) {
        fprintf(stderr, "hil-frames: out of memory for a card texture\n");
        gray_image_free(&frame);
        return -1;
    }
    struct card_pose pose = { .module_px = 5.0, .angle_deg = -4.0, .tilt_x_deg = 3.0, .tilt_y_deg = 2.0,
                              .focal_px = 576.0 };
    rc = card_pose_place(&tex, &pose, 0, 0, 640, 480, 2.0, false, &r);
    if (rc == 0)
        rc = card_draw(&frame, &tex, &pose);
    card_texture_free(&tex);
    if (rc != 0) {
        fprintf(stderr, "hil-frames: the card does not fit the frame\n");
        gray_image_free(&frame);
        return -1;
    }
    img_illuminate(&frame, 0.1, -0.1, 0.1);
    if (img_gaussian_blur(&frame, 0.5) != 0) {
        fprintf(stderr, "hil-frames: out of memory for blur\n");
        gray_image_free(&frame);
        return -1;
    }
    img_add_noise(&frame, &r, 2.0);
    rc = image_save(path, &frame, 90, err, sizeof(err));
    gray_image_free(&frame);
    if (rc != IMAGE_OK) {
        fprintf(stderr, "hil-frames: %s\n", err);
        return -1;
    }
    printf("%s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hil-frames OUTDIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/rejected-card.png", argv[1]);
    return render(path, REJECTED_PAYLOAD, 20250601) == 0 ? 0 : 1;
}
