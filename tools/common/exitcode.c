/*
 * tools/common/exitcode.c - one mapping from outcomes to exit codes.
 *
 * The numbers are sg3_utils's (sg_lib.h, SG_LIB_*) wherever it has the
 * meaning, so scripts written for sg_raw & co. read ours the same way;
 * the others are numbers sg3_utils leaves free.  The table is documented
 * in orionstor(1), EXIT STATUS; tests/tools/test-exit-codes.sh makes each
 * code happen.
 */
#include "toolcommon.h"

int tc_exit_from_error(int error)
{
	switch (error) {
	case OSTOR_SUCCESS:
		return TC_EXIT_OK;
	case OSTOR_ERROR_INVALID_PARAM:
	case OSTOR_ERROR_BAD_SPEC:
		/* The library refused what the user gave us. */
		return TC_EXIT_SYNTAX;
	case OSTOR_ERROR_ACCESS:
	case OSTOR_ERROR_CONFIG:
		return TC_EXIT_FILE_ERROR;
	case OSTOR_ERROR_NO_DEVICE:
		return TC_EXIT_DEVICE_GONE;
	case OSTOR_ERROR_NOT_FOUND:
		return TC_EXIT_NOT_FOUND;
	case OSTOR_ERROR_BUSY:
		return TC_EXIT_BUSY;
	case OSTOR_ERROR_TIMEOUT:
		return TC_EXIT_TIMEOUT;
	case OSTOR_ERROR_IO:
		/* Medium and hardware errors; transport failures the library
		 * folds into the same code land here too. */
		return TC_EXIT_MEDIUM_HARDWARE;
	case OSTOR_ERROR_PROTOCOL:
		return TC_EXIT_TRANSPORT;
	case OSTOR_ERROR_INTERRUPTED:
	case OSTOR_ERROR_ABORTED:
		return TC_EXIT_ABORTED_COMMAND;
	case OSTOR_ERROR_NOT_SUPPORTED:
		return TC_EXIT_INVALID_OPCODE;
	case OSTOR_ERROR_SCSI:
		return TC_EXIT_SENSE_OTHER;
	case OSTOR_ERROR_OUT_OF_RANGE:
		return TC_EXIT_LBA_OUT_OF_RANGE;
	case OSTOR_ERROR_WRITE_PROTECTED:
		return TC_EXIT_DATA_PROTECT;
	case OSTOR_ERROR_NO_MEDIUM:
		return TC_EXIT_NOT_READY;
	case OSTOR_ERROR_MISCOMPARE:
		return TC_EXIT_MISCOMPARE;
	case OSTOR_ERROR_OVERFLOW:
		return TC_EXIT_OVERRUN;
	case OSTOR_ERROR_NO_MEM:
	case OSTOR_ERROR_STATE:
	case OSTOR_ERROR_OTHER:
	default:
		return TC_EXIT_OTHER;
	}
}

int tc_exit_from_open_error(int error)
{
	switch (error) {
	case OSTOR_ERROR_NOT_FOUND:
	case OSTOR_ERROR_NO_DEVICE:
	case OSTOR_ERROR_IO:
	case OSTOR_ERROR_ACCESS:
		return TC_EXIT_FILE_ERROR;
	default:
		return tc_exit_from_error(error);
	}
}

int tc_exit_from_verdict(int verdict)
{
	/* The values of smartctl's exit bits for the same news, which
	 * sg3_utils leaves unused: scripts written for either read them. */
	switch (verdict) {
	case OSTOR_HEALTH_PASSED:
		return TC_EXIT_OK;
	case OSTOR_HEALTH_FAILING:
		return TC_EXIT_HEALTH_FAILING;
	default:
		return TC_EXIT_HEALTH_UNKNOWN;
	}
}

static int exit_from_sense(const uint8_t *sense, size_t sense_len)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

	if (!sense || sense_len == 0 || ostor_scsi_parse_sense(sense, sense_len, &s) < 0)
		return TC_EXIT_SENSE_OTHER;
	switch (s.key) {
	case OSTOR_SCSI_SENSE_NO_SENSE:
		return TC_EXIT_NO_SENSE;
	case OSTOR_SCSI_SENSE_RECOVERED_ERROR:
		return TC_EXIT_RECOVERED_ERROR;
	case OSTOR_SCSI_SENSE_NOT_READY:
		return TC_EXIT_NOT_READY;
	case OSTOR_SCSI_SENSE_MEDIUM_ERROR:
	case OSTOR_SCSI_SENSE_HARDWARE_ERROR:
	case OSTOR_SCSI_SENSE_BLANK_CHECK:
		return TC_EXIT_MEDIUM_HARDWARE;
	case OSTOR_SCSI_SENSE_ILLEGAL_REQUEST:
		if (s.asc == 0x20 && s.ascq == 0x00) /* INVALID COMMAND OPERATION CODE */
			return TC_EXIT_INVALID_OPCODE;
		if (s.asc == 0x21 && s.ascq == 0x00) /* LOGICAL BLOCK ADDRESS OUT OF RANGE */
			return TC_EXIT_LBA_OUT_OF_RANGE;
		return TC_EXIT_ILLEGAL_REQUEST;
	case OSTOR_SCSI_SENSE_UNIT_ATTENTION:
		return TC_EXIT_UNIT_ATTENTION;
	case OSTOR_SCSI_SENSE_DATA_PROTECT:
		return TC_EXIT_DATA_PROTECT;
	case OSTOR_SCSI_SENSE_COPY_ABORTED:
		return TC_EXIT_COPY_ABORTED;
	case OSTOR_SCSI_SENSE_ABORTED_COMMAND:
		return TC_EXIT_ABORTED_COMMAND;
	case OSTOR_SCSI_SENSE_MISCOMPARE:
		return TC_EXIT_MISCOMPARE;
	default:
		return TC_EXIT_SENSE_OTHER;
	}
}

int tc_exit_from_result(int result, int status, const uint8_t *sense, size_t sense_len)
{
	switch (result) {
	case OSTOR_RESULT_GOOD:
		return TC_EXIT_OK;
	case OSTOR_RESULT_CHECK_CONDITION:
		return exit_from_sense(sense, sense_len);
	case OSTOR_RESULT_BUSY:
		return status == OSTOR_SCSI_STATUS_TASK_SET_FULL ? TC_EXIT_TASK_SET_FULL : TC_EXIT_BUSY;
	case OSTOR_RESULT_RESERVATION_CONFLICT:
		return TC_EXIT_RESERVATION_CONFLICT;
	case OSTOR_RESULT_TRANSPORT_ERROR:
		return TC_EXIT_TRANSPORT;
	case OSTOR_RESULT_TIMEOUT:
		return TC_EXIT_TIMEOUT;
	case OSTOR_RESULT_ABORTED:
		return status == OSTOR_SCSI_STATUS_TASK_ABORTED ? TC_EXIT_TASK_ABORTED : TC_EXIT_ABORTED_COMMAND;
	case OSTOR_RESULT_DEVICE_GONE:
		return TC_EXIT_DEVICE_GONE;
	case OSTOR_RESULT_OTHER_STATUS:
		if (status == OSTOR_SCSI_STATUS_ACA_ACTIVE)
			return TC_EXIT_ACA_ACTIVE;
		if (status == OSTOR_SCSI_STATUS_TASK_ABORTED)
			return TC_EXIT_TASK_ABORTED;
		return TC_EXIT_OTHER;
	case OSTOR_RESULT_OVERRUN:
		return TC_EXIT_OVERRUN;
	case OSTOR_RESULT_PENDING:
	default:
		return TC_EXIT_OTHER;
	}
}

int tc_exit_from_task(const ostor_task *task)
{
	const uint8_t *sense;
	size_t sense_len = 0;

	if (!task)
		return TC_EXIT_OTHER;
	sense = ostor_task_sense(task, &sense_len);
	return tc_exit_from_result(ostor_task_result(task), ostor_task_status(task), sense, sense_len);
}
