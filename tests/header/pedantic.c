/* The public header must compile alone, in strict ISO C, with every warning an error. */
#include <vodup/vodup.h>

int main(void)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    vodup_listener l = VODUP_LISTENER_INIT;
    vodup_vod_info i = VODUP_VOD_INFO_INIT;
    return (int)(o.version + l.version + i.version) - 3;
}
