/* test_record_format.c - JSON keys, masks and the text view of a record. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "card/record_format.h"

static struct cccd_record sample(void)
{
    struct cccd_record r;
    memset(&r, 0, sizeof(r));
    r.card_type = CCCD_CARD_2024;
    strcpy(r.id_number, "079303001234");
    strcpy(r.full_name, "Đặng Thị Ánh Tuyết");
    r.date_of_birth = (struct cccd_date){ 2003, 2, 9 };
    r.sex = CCCD_FEMALE;
    strcpy(r.address, "Ấp 3, Xã Tân Thạnh, Long An");
    r.issue_date = (struct cccd_date){ 2024, 8, 1 };
    r.province_code = 79;
    return r;
}

static void test_json_keys(void **state)
{
    (void)state;
    struct cccd_record r = sample();
    json_t *o = record_to_json(&r);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id_number")), "079303001234");
    assert_true(json_is_null(json_object_get(o, "old_id_number")));
    assert_string_equal(json_string_value(json_object_get(o, "full_name")), "Đặng Thị Ánh Tuyết");
    assert_string_equal(json_string_value(json_object_get(o, "date_of_birth")), "2003-02-09");
    assert_string_equal(json_string_value(json_object_get(o, "issue_date")), "2024-08-01");
    assert_string_equal(json_string_value(json_object_get(o, "sex")), "female");
    assert_string_equal(json_string_value(json_object_get(o, "address")), "Ấp 3, Xã Tân Thạnh, Long An");
    assert_string_equal(json_string_value(json_object_get(o, "card_type")), "can-cuoc-2024");
    assert_int_equal(json_object_size(o), 8);
    json_decref(o);
    strcpy(r.old_id_number, "123456789");
    o = record_to_json(&r);
    assert_string_equal(json_string_value(json_object_get(o, "old_id_number")), "123456789");
    json_decref(o);
}

static void test_error_json(void **state)
{
    (void)state;
    json_t *o = record_error_json(CCCD_ERR_ID_YEAR);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "id-year-mismatch");
    assert_string_equal(json_string_value(json_object_get(o, "message")), cccd_status_message_en(CCCD_ERR_ID_YEAR));
    assert_string_equal(json_string_value(json_object_get(o, "message_vi")), cccd_status_message_vi(CCCD_ERR_ID_YEAR));
    json_decref(o);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_string_equal(record_kind(CCCD_OK), "cccd");
    assert_string_equal(record_kind(CCCD_NOT_CARD), "not-cccd");
    assert_string_equal(record_kind(CCCD_ERR_SEX), "rejected");
}

static void test_mask_id(void **state)
{
    (void)state;
    char out[13];
    record_mask_id("079303001234", out);
    assert_string_equal(out, "********1234");
    record_mask_id("123", out);
    assert_string_equal(out, "123");
    record_mask_id("", out);
    assert_string_equal(out, "");
}

/* Renders the text view into a string. */
static char *render(const struct cccd_record *r, bool pii)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    record_print_text(f, r, pii, "  ");
    fclose(f);
    return buf;
}

static void test_text_masks_personal_data(void **state)
{
    (void)state;
    struct cccd_record r = sample();
    char *t = render(&r, false);
    assert_non_null(strstr(t, "********1234"));
    assert_null(strstr(t, "079303001234"));
    assert_null(strstr(t, "Tuyết"));
    assert_non_null(strstr(t, "Đ. T. Á. T."));
    assert_null(strstr(t, "2003"));
    assert_null(strstr(t, "Long An"));
    assert_non_null(strstr(t, "2024-08-01")); /* the issue date is not personal */
    free(t);
    t = render(&r, true);
    assert_non_null(strstr(t, "079303001234"));
    assert_non_null(strstr(t, "Đặng Thị Ánh Tuyết"));
    assert_non_null(strstr(t, "2003-02-09"));
    assert_non_null(strstr(t, "Long An"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_keys),       cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_kinds),           cmocka_unit_test(test_mask_id),
        cmocka_unit_test(test_text_masks_personal_data),
    };
    return cmocka_run_group_tests_name("record_format", tests, NULL, NULL);
}
