/* card_clip.c - a clip of N frames, each with a different valid card.
 *
 *   card_clip DIR N [--seed S]
 *
 * Writes DIR/0000.pgm ... (one clean card QR per frame, fast to decode) and
 * DIR/ids.txt (the ID number of frame i on line i+1). For tests that need
 * many distinct check-ins through the real camera path: the crash test and
 * the uplink integration tests. The people are synthetic (cccd_gen). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "card_render.h"
#include "cccd_gen.h"
#include "base/image_io.h"
#include "rng.h"

#define SCALE 4

static int draw(const char *payload, const char *path)
{
    struct qr_matrix m;
    char err[256];
    if (qr_matrix_encode((const uint8_t *)payload, strlen(payload), &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "card_clip: %s\n", err);
        return -1;
    }
    int side = (m.width + 2 * QR_QUIET_ZONE) * SCALE + 40;
    struct gray_image img;
    if (gray_image_alloc(&img, side, side, 150) != IMAGE_OK) {
        qr_matrix_free(&m);
        return -1;
    }
    int x0 = 20 + QR_QUIET_ZONE * SCALE;
    for (int y = 20; y < side - 20; y++) /* quiet zone and modules */
        for (int x = 20; x < side - 20; x++) {
            int mx = (x - x0) / SCALE, my = (y - x0) / SCALE;
            bool dark = x >= x0 && y >= x0 && mx < m.width && my < m.width && m.dark[my * m.width + mx];
            img.pixels[y * side + x] = dark ? 25 : 230;
        }
    qr_matrix_free(&m);
    int rc = image_save(path, &img, 90, err, sizeof(err));
    if (rc != IMAGE_OK)
        fprintf(stderr, "card_clip: %s\n", err);
    gray_image_free(&img);
    return rc == IMAGE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: card_clip DIR N [--seed S]\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = atoi(argv[2]);
    unsigned long long seed = argc >= 5 && strcmp(argv[3], "--seed") == 0 ? strtoull(argv[4], NULL, 10) : 7;
    if (n < 1 || n > 100000 || (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)) {
        fprintf(stderr, "card_clip: cannot write %d frames into %s\n", n, dir);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/ids.txt", dir);
    FILE *ids = fopen(path, "w");
    char(*seen)[13] = calloc((size_t)n, 13);
    if (!ids || !seen) {
        fprintf(stderr, "card_clip: %s: cannot write\n", path);
        return 1;
    }
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        char payload[CCCD_GEN_MAX];
        bool fresh = false;
        while (!fresh) { /* distinct ID numbers: each frame is another patient */
            if (cccd_gen_card(&r, i % 3 ? CCCD_GEN_2021 : CCCD_GEN_2024, CCCD_GEN_TEXT_ANY, payload,
                              sizeof(payload)) < 12)
                return 1;
            fresh = true;
            for (int k = 0; k < i && fresh; k++)
                fresh = memcmp(seen[k], payload, 12) != 0;
        }
        memcpy(seen[i], payload, 12);
        fprintf(ids, "%.12s\n", payload);
        snprintf(path, sizeof(path), "%s/%04d.pgm", dir, i);
        if (draw(payload, path) != 0)
            return 1;
    }
    free(seen);
    return fclose(ids) == 0 ? 0 : 1;
}
